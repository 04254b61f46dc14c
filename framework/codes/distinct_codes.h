#pragma once
// The distinct codes of a database, each with its posting list: the database rows that
// hold it, in ascending index order. Learned codes repeat a lot (the quickstart's DSH
// 64-bit database of 69,000 items holds about 8,500 distinct codes, its 16-bit one far
// fewer), so a search can compare a query with each distinct code once and then expand
// the lists of the nearest (hamming_search.h, multi_index.h).
#include <cstdint>
#include <optional>
#include <vector>

#include "framework/codes/binary_codes.h"

namespace hamster {

class DistinctCodes {
 public:
  DistinctCodes() = default;
  explicit DistinctCodes(const BinaryCodes& db);

  // The distinct codes of db, or nothing as soon as more than max_distinct are seen
  // (then the work stops early: a caller that only wants them when they are few pays
  // for a fraction of the database).
  static std::optional<DistinctCodes> at_most(const BinaryCodes& db, int64_t max_distinct);

  // The distinct codes, in order of first appearance in the database.
  const BinaryCodes& codes() const { return codes_; }
  int64_t size() const { return codes_.size(); }
  int bits() const { return codes_.bits(); }
  int64_t database_size() const { return static_cast<int64_t>(rows_.size()); }

  // Rows holding distinct code c: rows_begin(c) .. rows_end(c), ascending.
  const int64_t* rows_begin(int64_t c) const { return rows_.data() + offsets_[c]; }
  const int64_t* rows_end(int64_t c) const { return rows_.data() + offsets_[c + 1]; }
  int64_t count(int64_t c) const { return offsets_[c + 1] - offsets_[c]; }

 private:
  BinaryCodes codes_;
  std::vector<int64_t> offsets_;  // size() + 1 entries
  std::vector<int64_t> rows_;     // every database row, grouped by code
};

// A distinct code found by a search, at its distance from the query.
struct FoundCode {
  int64_t code;
  int distance;
};

// Expands found distinct codes into database rows by (distance, index), the ranking of
// docs/protocol.md. `found` (any order; codes farther than `cutoff` are ignored) must hold
// every distinct code within `cutoff` of the query. Writes every row closer than
// `cutoff`, then the rows at `cutoff` of smallest index, n rows in all; n must lie
// between the count of rows closer than `cutoff` and the count within it. Rows of one
// distance come from several posting lists, merged by index: not the order in which the
// codes were found.
class PostingExpander {
 public:
  void expand(const DistinctCodes& codes, const std::vector<FoundCode>& found, int cutoff,
              int64_t n, int64_t* ids, int32_t* distances);

 private:
  struct Cursor {
    const int64_t* at;
    const int64_t* end;
  };
  std::vector<int64_t> start_;        // per distance, its first entry in by_distance_
  std::vector<int64_t> by_distance_;  // found codes within the cutoff, grouped by distance
  std::vector<Cursor> heap_;
};

}  // namespace hamster
