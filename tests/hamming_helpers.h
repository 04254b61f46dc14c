#pragma once
// Codes for the Hamming search tests, and the ranking docs/protocol.md defines, by brute force.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/data/split.h"
#include "framework/types.h"

namespace hamster::test {

// Random codes. `distinct` > 0 draws every row from that many random codes, so the
// database repeats codes the way learned codes do and distances tie in long runs.
inline BinaryCodes random_codes(int64_t n, int bits, Rng& rng, int distinct = 0) {
  BinaryCodes pool(distinct > 0 ? distinct : n, bits);
  for (int64_t i = 0; i < pool.size(); ++i)
    for (int b = 0; b < bits; ++b) pool.set_bit(i, b, rng.next() & 1);
  if (distinct == 0) return pool;
  std::vector<int64_t> pick(n);
  for (auto& p : pick) p = static_cast<int64_t>(rng.below(distinct));
  return pool.subset(pick);
}

// A database of n random codes and `queries` random query codes, all `bits` long.
inline std::pair<BinaryCodes, BinaryCodes> random_database_and_queries(int64_t n, int64_t queries,
                                                                       int bits, Rng& rng) {
  BinaryCodes db = random_codes(n, bits, rng);
  return {std::move(db), random_codes(queries, bits, rng)};
}

// Codes in clusters, the shape of learned codes: each row is one of `centres` random
// codes with each bit flipped with probability `flip`.
inline BinaryCodes clustered_codes(int64_t n, int bits, Rng& rng, int centres, double flip) {
  const BinaryCodes centre = random_codes(centres, bits, rng);
  BinaryCodes out(n, bits);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = static_cast<int64_t>(rng.below(centres));
    for (int b = 0; b < bits; ++b) out.set_bit(i, b, centre.bit(c, b) != (rng.uniform() < flip));
  }
  return out;
}

// Brute-force ranking: every database row, stably sorted by distance.
inline std::vector<int64_t> reference_ranking(const uint64_t* query, const BinaryCodes& db,
                                              std::vector<int>& dist) {
  dist.resize(db.size());
  for (int64_t j = 0; j < db.size(); ++j) dist[j] = hamming(query, db.row(j), db.words());
  std::vector<int64_t> order(db.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return dist[a] < dist[b]; });
  return order;
}

// Two searches gave the same shortlists: the same ids in the same order, the same distances.
inline void check_same_lists(const std::vector<Shortlist>& got,
                             const std::vector<Shortlist>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].ids == want[i].ids);
    CHECK(got[i].scores == want[i].scores);
  }
}

}  // namespace hamster::test
