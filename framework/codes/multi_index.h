#pragma once
// Exact multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming Space
// with Multi-Index Hashing", CVPR 2012) for kNN and radius search.
//
// Codes are cut into m substrings, each with a table from substring value to the
// database codes holding it. A query probes the tables with every substring value at
// distance 0, 1, 2, ... from its own, table after table, and verifies what it finds with
// the full Hamming distance. Pigeonhole: once tables 0..i have been probed at distance r
// and every table at r - 1, a code within m * r + i of the query cannot have been missed
// (each of its substrings would be farther than probed, so its distance would be at
// least m * r + i + 1). kNN stops when k rows lie within that guaranteed radius.
//
// The tables hold the database's distinct codes (distinct_codes.h), so learned codes,
// which repeat a lot, are verified once per code and expanded to rows at the end. A
// query whose next ball of probes would cost more than scanning the distinct codes is
// handed to the blocked SIMD scan of hamming_search.h instead (a far query, or short
// substrings, would otherwise enumerate huge balls), so MIH is never far slower than
// the scan. Results are exactly those of hamming_knn and hamming_radius: same ids, same
// distances, ties in row order.
//
// MIH wins where the k-th neighbour is near (short codes, many codes, learned codes with
// their tight clusters) and loses to the SIMD scan of hamming_search.h where it is far
// (long random codes): bench_hamming --mih measures where (docs/benchmarks.md).
#include <cstdint>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/codes/distinct_codes.h"
#include "framework/types.h"

namespace hamster {

// One substring's table: substring value -> the distinct codes holding it, ascending,
// each stored with its whole code, so that verifying a bucket reads it in one sweep
// rather than fetching rows from all over the database. Values are looked up in an array
// when the table is dense enough (2^length at most four entries per code), else in an
// open-addressing hash table of the values present.
class SubstringTable {
 public:
  SubstringTable(const BinaryCodes& codes, int start, int length);

  int start() const { return start_; }
  int length() const { return length_; }
  // Bits start .. start + length - 1 of a code, as a number.
  uint64_t of(const uint64_t* row) const;
  // The codes whose substring is `value`: size codes, their numbers in codes[] and their
  // rows (words() words each) in rows[]; size may be 0.
  struct Bucket {
    const uint32_t* codes;
    const uint64_t* rows;
    int64_t size;
  };
  Bucket lookup(uint64_t value) const;
  int words() const { return words_; }

 private:
  int start_;
  int length_;
  int words_;
  bool dense_;
  uint64_t slot_mask_ = 0;
  std::vector<uint64_t> slot_values_;  // hashed: the value in each slot
  std::vector<int32_t> slot_lists_;    // hashed: its list, -1 for an empty slot
  std::vector<uint32_t> offsets_;      // list l is codes_[offsets_[l] .. offsets_[l + 1])
  std::vector<uint32_t> codes_;
  std::vector<uint64_t> rows_;  // the code of codes_[i] at rows_[i * words_]
};

class MultiIndexHashing {
 public:
  // substrings = 0 chooses m = round(bits / log2(distinct codes)), at least 1 (the paper's
  // substrings of about log2 N bits, with N the codes the tables hold). Throws Error if
  // db is empty, or substrings is negative or larger than bits. scan_far_queries = false
  // probes every query to the end however far (for tests: small databases would hand
  // nearly every query to the scan).
  explicit MultiIndexHashing(const BinaryCodes& db, int substrings = 0,
                             bool scan_far_queries = true);

  int substrings() const { return static_cast<int>(tables_.size()); }
  int bits() const { return distinct_.bits(); }
  int64_t size() const { return distinct_.database_size(); }
  const DistinctCodes& distinct() const { return distinct_; }

  // What a search did, summed over its queries (for the bench).
  struct Work {
    int64_t probes = 0;           // substring values looked up
    int64_t verified = 0;         // distinct codes whose full distance was computed
    int64_t scanned_queries = 0;  // queries handed to the scan of the distinct codes
  };

  // As hamming_knn: caller-owned flat outputs of queries.size() * k entries. Throws
  // Error if k < 1 or k > size(), or if bit lengths differ.
  void knn(const BinaryCodes& queries, int64_t k, int64_t* ids, int32_t* distances,
           Work* work = nullptr) const;
  std::vector<Shortlist> knn(const BinaryCodes& queries, int64_t k) const;

  // As hamming_radius: every row within `radius`, by distance then index.
  std::vector<Shortlist> radius(const BinaryCodes& queries, int radius, Work* work = nullptr) const;

 private:
  DistinctCodes distinct_;
  std::vector<SubstringTable> tables_;
  bool scan_far_queries_;
  // The database itself when its codes are mostly distinct (more than a quarter of its
  // rows): far queries are then scanned row by row, which beats scanning distinct codes
  // that are hardly fewer and expanding their lists. Empty otherwise.
  BinaryCodes rows_;
  // A query goes to the scan when its probes would cost more than this (in distinct codes
  // scanned): the cost of scanning them all, or no limit.
  int64_t budget() const;
};

}  // namespace hamster
