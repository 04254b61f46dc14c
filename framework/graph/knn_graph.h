#pragma once
// KnnGraph: each database item's k most similar other items by inner product over
// L2-normalised rows (cosine similarity), best first. Built with hnswlib (approximate,
// TBB-parallel, inserted in batches so the graph does not depend on the thread count; see
// knn_graph.cpp) or exactly (blocked matrix product + top-k). Graph re-rankers share one
// per build through framework/graph/shared.h.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/types.h"

namespace hamster {

struct KnnGraph {
  int64_t n = 0;             // items
  int k = 0;                 // neighbours per item
  std::vector<int32_t> ids;  // n * k, row i = neighbours of item i, most similar first
  std::vector<float> sims;   // n * k, their inner products (cosine), non-increasing per row
  const int32_t* neighbours(int64_t i) const { return ids.data() + i * k; }
  const float* similarities(int64_t i) const { return sims.data() + i * k; }
};

struct KnnGraphOptions {
  int k = 50;
  std::string method = "hnsw";  // "hnsw" or "exact"
  int M = 16;                   // hnsw: links per node
  int ef_construction = 100;    // hnsw: build beam
  int ef_search = 0;            // hnsw: search beam; 0 = max(k + 1, ef_construction)
  uint64_t seed = 100;          // hnsw: level generator seed
};

// Copy with each row scaled to unit L2 norm; zero rows stay zero. Throws Error naming the
// first row holding a NaN or infinity.
Embedding l2_normalised(const Embedding& m);

// The kNN graph of `normalised` (rows unit-norm). Self-matches are dropped by id, never
// by similarity, so duplicates of an item are still its neighbours. Ties in similarity
// keep the smaller id first. The result does not depend on the thread count. Throws Error
// if k < 1 or k >= n, or on an unknown method.
KnnGraph build_knn_graph(const Embedding& normalised, const KnnGraphOptions& options);
KnnGraph exact_knn_graph(const Embedding& normalised, int k);

// Mean over items of |approx row ∩ exact row| / k (both graphs of the same n and k).
double knn_recall(const KnnGraph& approx, const KnnGraph& exact);

// One binary file (magic, n, k, ids, sims). load checks the magic, the sizes and that the
// file is complete and ids are in range, and throws Error naming the file otherwise; it
// also checks n and k against what the caller expects (when >= 0).
void save_knn_graph(const std::filesystem::path& file, const KnnGraph& graph);
KnnGraph load_knn_graph(const std::filesystem::path& file, int64_t expected_n = -1,
                        int expected_k = -1);

}  // namespace hamster
