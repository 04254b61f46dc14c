#pragma once
// The query's nearest database items, for the seeds of diffusion (Iscen et al. 2017 seed
// the query's kq nearest neighbours in the whole database, not in a shortlist). Over an
// exact graph the search is exact too (a scan of the database); over an hnsw graph it is a
// best-first beam search on the kNN graph (hnswlib's layer-0 search), entered at the
// shortlist items most similar to the query, which are already scored.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <queue>
#include <utility>
#include <vector>

#include "framework/graph/knn_graph.h"
#include "framework/types.h"
#include "rerankers/score_sort.h"

namespace hamster {

struct Neighbour {
  int64_t id;
  float similarity;
};

// Better first: higher similarity, then the smaller id (so results never depend on the
// order in which items were met).
inline bool better(const Neighbour& a, const Neighbour& b) {
  return a.similarity > b.similarity || (a.similarity == b.similarity && a.id < b.id);
}

// The k most similar rows of `database` (unit rows) to `query` (unit), best first.
inline std::vector<Neighbour> nearest_by_scan(const Eigen::RowVectorXf& query,
                                              const Embedding& database, int k) {
  const Eigen::VectorXf sims = database * query.transpose();
  std::vector<Neighbour> all(sims.size());
  for (int64_t i = 0; i < sims.size(); ++i) all[i] = {i, sims[i]};
  const size_t top = std::min(all.size(), static_cast<size_t>(k));
  std::partial_sort(all.begin(), all.begin() + top, all.end(), better);
  all.resize(top);
  return all;
}

// Visit marks that need no clearing between queries: item i is visited when
// stamp[i] == current. One per thread.
struct VisitMarks {
  std::vector<uint32_t> stamp;
  uint32_t current = 0;
  void next_query(int64_t n) {
    if (stamp.size() != static_cast<size_t>(n) || ++current == 0) {
      stamp.assign(n, 0);
      current = 1;
    }
  }
  bool visit(int64_t i) {  // true the first time i is visited in this query
    if (stamp[i] == current) return false;
    stamp[i] = current;
    return true;
  }
};

// Best-first search of `graph` for the k items most similar to `query`, keeping a beam of
// `ef` (>= k) results, started from `entries` (already scored). Deterministic.
inline std::vector<Neighbour> nearest_by_graph(const Eigen::RowVectorXf& query,
                                               const Embedding& database, const KnnGraph& graph,
                                               const std::vector<Neighbour>& entries, int k, int ef,
                                               VisitMarks& marks) {
  marks.next_query(graph.n);
  const auto worse = [](const Neighbour& a, const Neighbour& b) { return better(a, b); };
  // `results` keeps the ef best so far with the worst on top; `frontier` the best first.
  std::priority_queue<Neighbour, std::vector<Neighbour>, decltype(worse)> results(worse);
  const auto less_good = [](const Neighbour& a, const Neighbour& b) { return better(b, a); };
  std::priority_queue<Neighbour, std::vector<Neighbour>, decltype(less_good)> frontier(less_good);
  const auto offer = [&](const Neighbour& c) {
    if (static_cast<int>(results.size()) < ef || better(c, results.top())) {
      frontier.push(c);
      results.push(c);
      if (static_cast<int>(results.size()) > ef) results.pop();
    }
  };
  for (const Neighbour& e : entries)
    if (marks.visit(e.id)) offer(e);
  // A node's new neighbours are gathered first and scored with their rows prefetched
  // (dot_rows): the rows lie scattered over the database, and waiting for each in turn
  // was most of the search's time.
  std::vector<int64_t> fresh;
  std::vector<float> sims(graph.k);
  while (!frontier.empty()) {
    const Neighbour c = frontier.top();
    frontier.pop();
    if (static_cast<int>(results.size()) >= ef && better(results.top(), c)) break;
    const int32_t* row = graph.neighbours(c.id);
    fresh.clear();
    for (int j = 0; j < graph.k; ++j)
      if (marks.visit(row[j])) fresh.push_back(row[j]);
    dot_rows(database, query, fresh, sims.data());
    for (size_t t = 0; t < fresh.size(); ++t) offer({fresh[t], sims[t]});
  }
  std::vector<Neighbour> out;
  out.reserve(results.size());
  for (; !results.empty(); results.pop()) out.push_back(results.top());
  std::sort(out.begin(), out.end(), better);
  if (out.size() > static_cast<size_t>(k)) out.resize(k);
  return out;
}

}  // namespace hamster
