#pragma once
// Exact Hamming search (stage 1). Distances are small integers (<= bits), so selection is
// by counting, O(N) per query, never by sorting N items. Ties keep database-index order
// (PROTOCOL.md). Batches are TBB-parallel over queries.
#include <cstdint>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/types.h"

namespace hamster {

// Distances from one query code to every database row: out[j] = hamming(query, db[j]).
void hamming_distances(const uint64_t* query, const BinaryCodes& db, uint16_t* out);

// Stable ranking of the whole database by distance (counting sort): order[r] is the
// database index at rank r. dist is the output of hamming_distances; bits bounds it.
void rank_by_distance(const uint16_t* dist, int64_t n, int bits, int64_t* order);

// k nearest database rows for every query, caller-owned flat outputs of
// queries.size() * k entries (faiss style). Throws Error if k < 1 or k > db.size(), or
// if bit lengths differ.
void hamming_knn(const BinaryCodes& queries, const BinaryCodes& db, int64_t k, int64_t* ids,
                 int32_t* distances);

// Convenience form: one Shortlist per query (scores = distances).
std::vector<Shortlist> hamming_knn(const BinaryCodes& queries, const BinaryCodes& db, int64_t k);

// Every database row within `radius` of each query, by distance then index.
std::vector<Shortlist> hamming_radius(const BinaryCodes& queries, const BinaryCodes& db,
                                      int radius);

}  // namespace hamster
