#include "framework/codes/multi_index.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "framework/codes/hamming_search.h"
#include "framework/error.h"

namespace hamster {
namespace {

uint64_t low_bits(int length) { return length >= 64 ? ~uint64_t{0} : (uint64_t{1} << length) - 1; }

uint64_t mix(uint64_t v) {
  v *= 0x9E3779B97F4A7C15ull;
  return v ^ (v >> 32);
}

// C(n, r), or cap + 1 when it is larger than cap.
int64_t binomial_capped(int n, int r, int64_t cap) {
  if (r < 0 || r > n) return 0;
  r = std::min(r, n - r);
  double c = 1;
  for (int i = 1; i <= r; ++i) {
    c = c * (n - r + i) / i;
    if (c > static_cast<double>(cap)) return cap + 1;
  }
  return static_cast<int64_t>(std::llround(c));
}

// Calls f(mask) for every mask of `length` bits with exactly r bits set, in increasing
// order (Gosper's hack).
template <class F>
void for_each_mask(int length, int r, F&& f) {
  if (r > length) return;
  if (r == 0) {
    f(uint64_t{0});
    return;
  }
  const uint64_t last = low_bits(length) & ~low_bits(length - r);  // the top r bits
  for (uint64_t c = low_bits(r);;) {
    f(c);
    if (c == last) return;
    const uint64_t lowest = c & (~c + 1);
    const uint64_t carried = c + lowest;  // below `last`, this cannot overflow
    c = carried + (((carried ^ c) / lowest) >> 2);
  }
}

// Costs in units of one distinct code compared by the blocked SIMD scan (0.02 to 0.05 ns
// on AVX-512 with 16- to 64-bit codes): a table probe is a cache miss or two (about
// 100 ns), a verified code a popcount and a look at the cut-off (about 10 ns). Measured
// with bench_hamming --mih on Zen 5 (docs/benchmarks.md); they only decide when a query goes to the
// scan, never what it returns.
constexpr int64_t kProbeCost = 4096;
constexpr int64_t kVerifyCost = 256;

void check_codes(const BinaryCodes& queries, int bits, const char* what) {
  if (queries.bits() != bits)
    throw Error(std::string(what) + ": query codes have " + std::to_string(queries.bits()) +
                " bits but database codes have " + std::to_string(bits));
}

// What one query has found so far. kNN keeps, like the scan's DistinctTopK, the cutoff:
// the smallest distance with k rows at or below it among the codes found; a code farther
// than the cutoff can never be among the k best. A radius search keeps its radius there.
struct Scratch {
  std::vector<uint64_t> seen;  // bit c: code c is in `found`
  std::vector<FoundCode> found;
  std::vector<int64_t> hist;  // rows of the found codes, per distance
  int64_t k = 0;              // 0 for a radius search
  int cutoff = 0;
  int64_t at_or_below = 0;  // rows of found codes with distance <= cutoff
  PostingExpander expander;
  std::vector<int64_t> deferred;  // queries handed to the scan
  MultiIndexHashing::Work work;

  void begin(int64_t codes, int bits, int64_t k_, int cutoff_) {
    if (static_cast<int64_t>(seen.size()) != (codes + 63) / 64) seen.assign((codes + 63) / 64, 0);
    found.clear();
    hist.assign(static_cast<size_t>(bits) + 1, 0);
    k = k_;
    cutoff = cutoff_;
    at_or_below = 0;
  }
  void end() {
    for (const FoundCode& f : found) seen[f.code >> 6] = 0;
  }
  void visit(uint32_t c, int d, int64_t rows) {
    if (d > cutoff || (seen[c >> 6] >> (c & 63) & 1)) return;
    seen[c >> 6] |= uint64_t{1} << (c & 63);
    found.push_back({c, d});
    hist[d] += rows;
    at_or_below += rows;
    if (k > 0)
      while (cutoff > 0 && at_or_below - hist[cutoff] >= k) at_or_below -= hist[cutoff--];
  }
};

int hamming_row(const uint64_t* a, const uint64_t* b, int words) {
  if (words == 1) return __builtin_popcountll(a[0] ^ b[0]);
  return hamming(a, b, words);
}

// Probes the tables ring after ring for query q, verifying every code met, until every
// code within the cutoff has been found: for kNN, once k rows lie within the radius the
// probes guarantee; for a radius search, once that radius reaches it. Returns false,
// leaving the query to the scan, when the next ball of probes would cost more than
// scanning the distinct codes.
bool gather(const DistinctCodes& dc, const std::vector<SubstringTable>& tables, const uint64_t* q,
            int64_t budget, Scratch& s) {
  const int bits = dc.bits();
  const int words = dc.codes().words();
  const int m = static_cast<int>(tables.size());
  int64_t spent = 0;
  int longest = 0;
  for (const SubstringTable& t : tables) longest = std::max(longest, t.length());
  for (int r = 0; r <= longest; ++r)
    for (int i = 0; i < m; ++i) {
      const SubstringTable& t = tables[i];
      const int64_t ball = binomial_capped(t.length(), r, budget / kProbeCost);
      if (spent + kProbeCost * ball > budget) return false;
      spent += kProbeCost * ball;
      s.work.probes += ball;
      const uint64_t own = t.of(q);
      for_each_mask(t.length(), r, [&](uint64_t flip) {
        const SubstringTable::Bucket b = t.lookup(own ^ flip);
        for (int64_t e = 0; e < b.size; ++e) {
          const uint32_t c = b.codes[e];
          s.visit(c, hamming_row(q, b.rows + e * words, words), dc.count(c));
        }
        s.work.verified += b.size;
        spent += kVerifyCost * b.size;
      });
      const int guaranteed = std::min(bits, m * r + i);
      const bool enough = s.k == 0 || s.at_or_below >= s.k;
      if (enough && s.cutoff <= guaranteed) return true;
    }
  return true;  // not reached: the last ring of the longest table covers every distance
}

// Runs gather on every query in parallel; returns the queries it left to the scan, in order.
template <class Finish>
std::vector<int64_t> probe_all(const DistinctCodes& dc, const std::vector<SubstringTable>& tables,
                               const BinaryCodes& queries, int64_t k, int cutoff, int64_t budget,
                               MultiIndexHashing::Work* work, Finish&& finish) {
  tbb::enumerable_thread_specific<Scratch> scratch;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, queries.size(), 16),
                    [&](const tbb::blocked_range<int64_t>& range) {
                      Scratch& s = scratch.local();
                      for (int64_t q = range.begin(); q < range.end(); ++q) {
                        s.begin(dc.size(), dc.bits(), k, cutoff);
                        if (gather(dc, tables, queries.row(q), budget, s))
                          finish(q, s);
                        else
                          s.deferred.push_back(q);
                        s.end();
                      }
                    });
  std::vector<int64_t> deferred;
  MultiIndexHashing::Work sum;
  for (const Scratch& s : scratch) {
    deferred.insert(deferred.end(), s.deferred.begin(), s.deferred.end());
    sum.probes += s.work.probes;
    sum.verified += s.work.verified;
  }
  std::sort(deferred.begin(), deferred.end());
  sum.scanned_queries = static_cast<int64_t>(deferred.size());
  if (work) *work = sum;
  return deferred;
}

}  // namespace

// ---- Substring tables --------------------------------------------------------------------

SubstringTable::SubstringTable(const BinaryCodes& codes, int start, int length)
    : start_(start),
      length_(length),
      words_(codes.words()),
      dense_(length <= 30 && (int64_t{1} << length) <= 4 * codes.size() + 64) {
  const int64_t n = codes.size();
  std::vector<int64_t> list_of(n);
  int64_t lists = 0;
  if (dense_) {
    lists = int64_t{1} << length;
    for (int64_t c = 0; c < n; ++c) list_of[c] = static_cast<int64_t>(of(codes.row(c)));
  } else {
    size_t slots = 16;
    while (slots < static_cast<size_t>(2 * n)) slots *= 2;
    slot_mask_ = slots - 1;
    slot_values_.assign(slots, 0);
    slot_lists_.assign(slots, -1);
    for (int64_t c = 0; c < n; ++c) {
      const uint64_t v = of(codes.row(c));
      size_t s = mix(v) & slot_mask_;
      while (slot_lists_[s] >= 0 && slot_values_[s] != v) s = (s + 1) & slot_mask_;
      if (slot_lists_[s] < 0) slot_values_[s] = v, slot_lists_[s] = static_cast<int32_t>(lists++);
      list_of[c] = slot_lists_[s];
    }
  }
  // Counting sort of the codes by list: each list in ascending code order.
  offsets_.assign(static_cast<size_t>(lists) + 1, 0);
  for (int64_t l : list_of) ++offsets_[l + 1];
  for (int64_t l = 0; l < lists; ++l) offsets_[l + 1] += offsets_[l];
  std::vector<uint32_t> next(offsets_.begin(), offsets_.end() - 1);
  codes_.resize(n);
  rows_.resize(n * words_);
  for (int64_t c = 0; c < n; ++c) {
    const uint32_t at = next[list_of[c]]++;
    codes_[at] = static_cast<uint32_t>(c);
    std::copy_n(codes.row(c), words_, rows_.begin() + static_cast<int64_t>(at) * words_);
  }
}

uint64_t SubstringTable::of(const uint64_t* row) const {
  const int word = start_ >> 6, shift = start_ & 63;
  uint64_t v = row[word] >> shift;
  if (shift + length_ > 64) v |= row[word + 1] << (64 - shift);
  return v & low_bits(length_);
}

SubstringTable::Bucket SubstringTable::lookup(uint64_t value) const {
  int64_t list = -1;
  if (dense_) {
    list = static_cast<int64_t>(value);
  } else {
    size_t s = mix(value) & slot_mask_;
    while (slot_lists_[s] >= 0 && slot_values_[s] != value) s = (s + 1) & slot_mask_;
    list = slot_lists_[s];
  }
  if (list < 0) return {codes_.data(), rows_.data(), 0};
  const uint32_t at = offsets_[list];
  return {codes_.data() + at, rows_.data() + static_cast<int64_t>(at) * words_,
          static_cast<int64_t>(offsets_[list + 1] - at)};
}

// ---- The index ---------------------------------------------------------------------------

MultiIndexHashing::MultiIndexHashing(const BinaryCodes& db, int substrings, bool scan_far_queries)
    : scan_far_queries_(scan_far_queries) {
  if (db.size() == 0) throw Error("MultiIndexHashing: the database is empty");
  if (substrings < 0 || substrings > db.bits())
    throw Error("MultiIndexHashing: " + std::to_string(substrings) + " substrings of " +
                std::to_string(db.bits()) + "-bit codes (expected 1 to " +
                std::to_string(db.bits()) + ", or 0 to choose)");
  distinct_ = DistinctCodes(db);
  if (4 * distinct_.size() > db.size()) rows_ = db;
  int m = substrings;
  if (m == 0) {
    const double per_table = std::max(1.0, std::log2(static_cast<double>(distinct_.size())));
    m = std::clamp(static_cast<int>(std::lround(db.bits() / per_table)), 1, db.bits());
  }
  // Lengths differ by at most one bit, the longer substrings first.
  for (int i = 0, start = 0; i < m; ++i) {
    const int length = db.bits() / m + (i < db.bits() % m ? 1 : 0);
    tables_.emplace_back(distinct_.codes(), start, length);
    start += length;
  }
}

int64_t MultiIndexHashing::budget() const {
  return scan_far_queries_ ? distinct_.size() : std::numeric_limits<int64_t>::max() / 2;
}

void MultiIndexHashing::knn(const BinaryCodes& queries, int64_t k, int64_t* ids, int32_t* distances,
                            Work* work) const {
  check_codes(queries, bits(), "MultiIndexHashing::knn");
  if (k < 1)
    throw Error("MultiIndexHashing::knn: k = " + std::to_string(k) + " must be at least 1");
  if (k > size())
    throw Error("MultiIndexHashing::knn: k = " + std::to_string(k) +
                " is larger than the database (" + std::to_string(size()) + " items)");
  const std::vector<int64_t> deferred =
      probe_all(distinct_, tables_, queries, k, bits(), budget(), work, [&](int64_t q, Scratch& s) {
        s.expander.expand(distinct_, s.found, s.cutoff, k, ids + q * k, distances + q * k);
      });
  if (deferred.empty()) return;
  std::vector<int64_t> scan_ids(deferred.size() * k);
  std::vector<int32_t> scan_dist(deferred.size() * k);
  if (rows_.size() > 0)
    hamming_knn(queries.subset(deferred), rows_, k, scan_ids.data(), scan_dist.data(),
                default_hamming_kernel(), KnnPath::scan);
  else
    hamming_knn(queries.subset(deferred), distinct_, k, scan_ids.data(), scan_dist.data());
  for (size_t i = 0; i < deferred.size(); ++i) {
    std::copy_n(scan_ids.begin() + i * k, k, ids + deferred[i] * k);
    std::copy_n(scan_dist.begin() + i * k, k, distances + deferred[i] * k);
  }
}

std::vector<Shortlist> MultiIndexHashing::knn(const BinaryCodes& queries, int64_t k) const {
  std::vector<int64_t> ids(std::max<int64_t>(0, queries.size() * k));
  std::vector<int32_t> distances(ids.size());
  knn(queries, k, ids.data(), distances.data());
  std::vector<Shortlist> out(queries.size());
  for (int64_t q = 0; q < queries.size(); ++q) {
    out[q].ids.assign(ids.begin() + q * k, ids.begin() + (q + 1) * k);
    out[q].scores.assign(distances.begin() + q * k, distances.begin() + (q + 1) * k);
  }
  return out;
}

std::vector<Shortlist> MultiIndexHashing::radius(const BinaryCodes& queries, int radius,
                                                 Work* work) const {
  check_codes(queries, bits(), "MultiIndexHashing::radius");
  std::vector<Shortlist> out(queries.size());
  if (work) *work = Work{};
  if (radius < 0) return out;
  const int r_max = std::min(radius, bits());
  // Every row of the found codes within the radius, by distance then row.
  const auto expand_all = [&](PostingExpander& expander, const std::vector<FoundCode>& found,
                              Shortlist& list) {
    int64_t n = 0;
    for (const FoundCode& f : found)
      if (f.distance <= r_max) n += distinct_.count(f.code);
    list.ids.resize(n);
    std::vector<int32_t> d(n);
    expander.expand(distinct_, found, r_max, n, list.ids.data(), d.data());
    list.scores.assign(d.begin(), d.end());
  };
  const std::vector<int64_t> deferred =
      probe_all(distinct_, tables_, queries, 0, r_max, budget(), work,
                [&](int64_t q, Scratch& s) { expand_all(s.expander, s.found, out[q]); });
  if (deferred.empty()) return out;
  if (rows_.size() > 0) {
    std::vector<Shortlist> scanned = hamming_radius(queries.subset(deferred), rows_, r_max);
    for (size_t i = 0; i < deferred.size(); ++i) out[deferred[i]] = std::move(scanned[i]);
    return out;
  }
  // The scan of the distinct codes lists each query's codes within the radius.
  const std::vector<Shortlist> near =
      hamming_radius(queries.subset(deferred), distinct_.codes(), r_max);
  PostingExpander expander;
  std::vector<FoundCode> found;
  for (size_t i = 0; i < deferred.size(); ++i) {
    found.clear();
    for (size_t j = 0; j < near[i].ids.size(); ++j)
      found.push_back({near[i].ids[j], static_cast<int>(near[i].scores[j])});
    expand_all(expander, found, out[deferred[i]]);
  }
  return out;
}

}  // namespace hamster
