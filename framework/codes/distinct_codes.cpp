#include "framework/codes/distinct_codes.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <string>

#include "framework/error.h"

namespace hamster {
namespace {

uint64_t hash_row(const uint64_t* row, int words) {
  uint64_t h = 0;
  for (int w = 0; w < words; ++w) {
    h = (h ^ row[w]) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  return h;
}

// Distinct code of every database row, numbered by first appearance, found with an
// open-addressing table of code numbers (linear probing). Returns false, with `of` and
// `first` incomplete, once more than max_distinct codes are seen.
bool number_codes(const BinaryCodes& db, int64_t max_distinct, std::vector<int32_t>& of,
                  std::vector<int64_t>& first) {
  const int words = db.words();
  const int64_t expected = std::min(db.size(), max_distinct);
  size_t slots = 16;
  while (slots < static_cast<size_t>(2 * expected)) slots *= 2;
  std::vector<int32_t> table(slots, -1);
  const size_t mask = slots - 1;
  of.resize(db.size());
  for (int64_t j = 0; j < db.size(); ++j) {
    const uint64_t* row = db.row(j);
    size_t s = hash_row(row, words) & mask;
    while (table[s] >= 0 && !std::equal(row, row + words, db.row(first[table[s]])))
      s = (s + 1) & mask;
    if (table[s] < 0) {
      if (static_cast<int64_t>(first.size()) == max_distinct) return false;
      table[s] = static_cast<int32_t>(first.size());
      first.push_back(j);
    }
    of[j] = table[s];
  }
  return true;
}

}  // namespace

DistinctCodes::DistinctCodes(const BinaryCodes& db) { *this = *at_most(db, db.size()); }

std::optional<DistinctCodes> DistinctCodes::at_most(const BinaryCodes& db, int64_t max_distinct) {
  if (db.size() > std::numeric_limits<int32_t>::max())
    throw Error("DistinctCodes: " + std::to_string(db.size()) +
                " codes are more than the 2^31 - 1 supported");
  std::vector<int32_t> of;
  std::vector<int64_t> first;
  if (!number_codes(db, std::max<int64_t>(max_distinct, 0), of, first)) return std::nullopt;
  DistinctCodes d;
  d.codes_ = db.subset(first);
  // Counting sort of the rows by code: each list comes out in ascending row order.
  d.offsets_.assign(first.size() + 1, 0);
  for (int32_t c : of) ++d.offsets_[c + 1];
  for (size_t c = 0; c < first.size(); ++c) d.offsets_[c + 1] += d.offsets_[c];
  std::vector<int64_t> next(d.offsets_.begin(), d.offsets_.end() - 1);
  d.rows_.resize(of.size());
  for (size_t j = 0; j < of.size(); ++j) d.rows_[next[of[j]]++] = static_cast<int64_t>(j);
  return d;
}

void PostingExpander::expand(const DistinctCodes& codes, const std::vector<FoundCode>& found,
                             int cutoff, int64_t n, int64_t* ids, int32_t* distances) {
  // Group the codes within the cutoff by distance (counting sort).
  start_.assign(static_cast<size_t>(cutoff) + 2, 0);
  for (const FoundCode& f : found)
    if (f.distance <= cutoff) ++start_[f.distance + 1];
  for (int d = 0; d <= cutoff; ++d) start_[d + 1] += start_[d];
  by_distance_.resize(start_[cutoff + 1]);
  for (const FoundCode& f : found)
    if (f.distance <= cutoff) by_distance_[start_[f.distance]++] = f.code;
  // start_[d] is now the end of distance d's group; its beginning is start_[d - 1].
  int64_t written = 0;
  for (int d = 0; d <= cutoff && written < n; ++d) {
    const int64_t* group = by_distance_.data() + (d == 0 ? 0 : start_[d - 1]);
    const int64_t* group_end = by_distance_.data() + start_[d];
    const int64_t take_at_most = n - written;
    if (group_end - group == 1) {
      const int64_t c = *group;
      const int64_t take = std::min(take_at_most, codes.count(c));
      std::copy_n(codes.rows_begin(c), take, ids + written);
      std::fill_n(distances + written, take, d);
      written += take;
      continue;
    }
    // Several lists at this distance: merge them by row index with a min-heap of cursors.
    const auto later = [](const Cursor& a, const Cursor& b) { return *a.at > *b.at; };
    heap_.clear();
    for (const int64_t* g = group; g != group_end; ++g)
      heap_.push_back({codes.rows_begin(*g), codes.rows_end(*g)});
    std::make_heap(heap_.begin(), heap_.end(), later);
    const int64_t stop = written + take_at_most;
    while (!heap_.empty() && written < stop) {
      std::pop_heap(heap_.begin(), heap_.end(), later);
      Cursor& c = heap_.back();
      ids[written] = *c.at++;
      distances[written++] = d;
      if (c.at == c.end)
        heap_.pop_back();
      else
        std::push_heap(heap_.begin(), heap_.end(), later);
    }
  }
}

}  // namespace hamster
