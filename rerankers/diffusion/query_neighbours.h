#pragma once
// The query's kq nearest database items with their diffusion weights, shared by diffusion
// (the seeds of its solve) and offline_diffusion (the items whose offline solutions it sums).
#include <algorithm>
#include <cmath>
#include <vector>

#include "rerankers/diffusion/graph_search.h"
#include "rerankers/diffusion/seeds.h"

namespace hamster {

// Beam of the graph search; its entries are the shortlist's most similar items.
constexpr int kSearchBeam = 32;

struct WeightedId {
  int64_t id;
  float weight;
};

// The query's kq nearest database items: from the shortlist (from_shortlist), through the
// hnsw graph when `graph` is given, or by a scan of the database; weighted
// max(0, cos)^gamma, zero weights left out.
inline std::vector<WeightedId> query_neighbours(const Eigen::RowVectorXf& query,
                                                const Embedding& database, const KnnGraph* graph,
                                                const std::vector<float>& sims,
                                                const Shortlist& list, int kq, float gamma,
                                                bool from_shortlist, VisitMarks& marks) {
  const auto shortlist_best = [&](int count) {
    std::vector<Neighbour> out;
    for (const Seed& s : query_seeds(sims, count, 1.0f))
      out.push_back({list.ids[s.position], sims[s.position]});
    return out;
  };
  std::vector<Neighbour> nearest;
  if (from_shortlist) {
    nearest = shortlist_best(kq);
  } else if (graph) {
    const int beam = std::max(kq, kSearchBeam);
    nearest = nearest_by_graph(query, database, *graph, shortlist_best(beam), kq, beam, marks);
  } else {
    nearest = nearest_by_scan(query, database, kq);
  }
  std::vector<WeightedId> out;
  for (const Neighbour& n : nearest) {
    const float w = std::pow(std::max(0.0f, n.similarity), gamma);
    if (w > 0) out.push_back({n.id, w});
  }
  return out;
}

}  // namespace hamster
