#pragma once
// Exact Hamming search (stage 1). Distances are small integers (<= bits), so selection is
// by counting, O(N) per query, never by sorting N items. Ties keep database-index order
// (docs/protocol.md). The distance loops are a HammingKernel chosen for this CPU (AVX-512,
// AVX2 or scalar; hamming_kernel.h); every kernel gives the same results. Searches run
// blocks of queries over cache-sized tiles of the database, TBB-parallel over query blocks
// and, when there are few queries, over database ranges too.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/codes/distinct_codes.h"
#include "framework/codes/hamming_kernel.h"
#include "framework/types.h"

namespace hamster {

// The kernels this CPU can run, slowest first: "scalar", then "avx2", then "avx512".
const std::vector<const HammingKernel*>& supported_hamming_kernels();

// The kernel of that name. Throws Error if the name is unknown or the CPU lacks its
// instructions.
const HammingKernel& hamming_kernel(const std::string& name);

// The kernel named by the environment variable HAMSTER_HAMMING_KERNEL (scalar, avx2 or
// avx512) when it is set, else the fastest this CPU supports.
const HammingKernel& default_hamming_kernel();

// Distances from one query code to every database row: out[j] = hamming(query, db[j]).
void hamming_distances(const uint64_t* query, const BinaryCodes& db, uint16_t* out,
                       const HammingKernel& kernel = default_hamming_kernel());

// Stable ranking of the whole database by distance (counting sort): order[r] is the
// database index at rank r. dist is the output of hamming_distances; bits bounds it.
void rank_by_distance(const uint16_t* dist, int64_t n, int bits, int64_t* order);

// How hamming_knn finds the k nearest rows; every path gives the same ids and distances.
//   scan:      compare each query with every database row.
//   distinct:  collect the database's distinct codes and their posting lists first
//              (distinct_codes.h), compare each query with each distinct code once, and
//              expand the lists of the nearest.
//   automatic: `distinct` when there are enough queries to pay for collecting the
//              distinct codes and they turn out few enough to pay back, else `scan`
//              (kDistinctQueries, kDistinctSample and kDistinctShare in
//              hamming_search.cpp).
enum class KnnPath { automatic, scan, distinct };

// "automatic", "scan" or "distinct"; the path of that name (Error for any other).
const char* knn_path_name(KnnPath path);
KnnPath knn_path(const std::string& name);

// k nearest database rows for every query, caller-owned flat outputs of
// queries.size() * k entries (faiss style). Throws Error if k < 1 or k > db.size(), or
// if bit lengths differ. `taken`, when given, receives the path that ran (scan or
// distinct: what `automatic` chose).
void hamming_knn(const BinaryCodes& queries, const BinaryCodes& db, int64_t k, int64_t* ids,
                 int32_t* distances, const HammingKernel& kernel = default_hamming_kernel(),
                 KnnPath path = KnnPath::automatic, KnnPath* taken = nullptr);

// The same search over distinct codes collected beforehand (the `distinct` path without
// its set-up, for a caller that searches one database many times).
void hamming_knn(const BinaryCodes& queries, const DistinctCodes& db, int64_t k, int64_t* ids,
                 int32_t* distances, const HammingKernel& kernel = default_hamming_kernel());

// Convenience form: one Shortlist per query (scores = distances).
std::vector<Shortlist> hamming_knn(const BinaryCodes& queries, const BinaryCodes& db, int64_t k,
                                   const HammingKernel& kernel = default_hamming_kernel(),
                                   KnnPath path = KnnPath::automatic, KnnPath* taken = nullptr);

// Every database row within `radius` of each query, by distance then index.
std::vector<Shortlist> hamming_radius(const BinaryCodes& queries, const BinaryCodes& db, int radius,
                                      const HammingKernel& kernel = default_hamming_kernel());

}  // namespace hamster
