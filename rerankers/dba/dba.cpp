// dba: database-side augmentation (Arandjelovic & Zisserman, CVPR 2012). Offline, each
// database item is replaced by x'_i = normalise(x_i + sum_{j in N_k(i)} max(0, s_ij)^alpha x_j),
// N_k(i) the first k neighbours of i in the shared kNN graph (s_ij their cosine; alpha = 0
// weighs each 1). Online the query is not augmented: the shortlist is scored by
// -cos(q, x'_j), or, with qe_n > 0, by -cos(q', x'_j) where q' is alpha-weighted query
// expansion (same alpha) with the qe_n best items of the augmented database (DBA + alpha-QE).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "rerankers/qe/expansion.h"

namespace hamster {
namespace {

// The graph every graph re-ranker of a build shares; dba reads the first k of its rows.
// `graph: exact` swaps in the exact graph (the reference scripts' graph).
const KnnGraphOptions kGraph{};

KnnGraphOptions graph_options(const std::string& method) {
  KnnGraphOptions o = kGraph;
  o.method = method;
  return o;
}

Embedding augmented_database(const Embedding& x, const KnnGraph& graph, int k, float alpha) {
  if (graph.n != x.rows())
    throw Error("dba: the graph has " + std::to_string(graph.n) + " items, the database " +
                std::to_string(x.rows()));
  Embedding out(x.rows(), x.cols());
  // Each row is written by one task from its own inputs: no result depends on scheduling.
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, x.rows()), [&](const auto& range) {
    Eigen::RowVectorXf row(x.cols());
    for (int64_t i = range.begin(); i < range.end(); ++i) {
      row = x.row(i);
      const int32_t* ids = graph.neighbours(i);
      const float* sims = graph.similarities(i);
      for (int t = 0; t < k; ++t) row += qe::expansion_weight(sims[t], alpha) * x.row(ids[t]);
      const float norm = row.norm();
      out.row(i) = norm > 0 ? Eigen::RowVectorXf(row / norm) : row;
    }
  });
  return out;
}

class DbaRerank final : public qe::ExpansionRerank {
 public:
  DbaRerank(std::string embedding, int k, float alpha, int qe_n, const std::string& graph)
      : ExpansionRerank("dba", std::move(embedding), qe_n, alpha),
        k_(k),
        alpha_(alpha),
        graph_(graph_options(graph)) {}

 private:
  std::shared_ptr<const Embedding> expansion_database(const RerankContext& ctx) override {
    auto graph = shared_knn_graph(ctx, embedding(), graph_);
    if (k_ > graph->k)
      throw Error("dba: k must be <= the shared graph's k (" + std::to_string(graph->k) +
                  "), got " + std::to_string(k_));
    auto x = shared_normalised(ctx, embedding());
    // Memory only: rebuilding is one pass over the graph, cheaper than reading 4 n D bytes.
    return ctx.artefacts.get<Embedding>(augmented_key(),
                                        [&] { return augmented_database(*x, *graph, k_, alpha_); });
  }

  std::vector<std::string> artefacts() const override {
    return unique_keys({knn_graph_artefacts(embedding(), graph_),
                        normalised_artefacts(embedding()),
                        {augmented_key()}});
  }

  std::string augmented_key() const {
    return "dba-k" + std::to_string(k_) + "-alpha" + qe::key_number(alpha_) + "-" +
           knn_graph_key(embedding(), graph_);
  }

  int k_;
  float alpha_;
  KnnGraphOptions graph_;
};

const RegisterReranker kRegisterDba(
    "dba", "database-side augmentation over the shared kNN graph, optionally with alpha-QE",
    {{"k", "10", "graph neighbours added to each database item (<= the shared graph's 50)"},
     {"alpha", "3", "similarity exponent of each neighbour's weight (>= 0; 0 = plain average)"},
     {"qe_n", "0", "if > 0, also alpha-QE of the query with this many augmented items"},
     {"graph", "hnsw", "hnsw (the shared approximate graph) or exact (brute force)"},
     qe::embedding_spec()},
    [](const Params& p) {
      const int k = p.get_int("k");
      if (k < 1 || k > kGraph.k)
        throw Error("dba: k must be in [1, " + std::to_string(kGraph.k) +
                    "] (the shared graph's k), got " + std::to_string(k));
      const double alpha = p.get_double("alpha");
      if (alpha < 0) throw Error("dba: alpha must be >= 0, got " + p.get_string("alpha"));
      const int qe_n = p.get_int("qe_n");
      if (qe_n < 0) throw Error("dba: qe_n must be >= 0, got " + std::to_string(qe_n));
      const std::string graph = p.get_string("graph");
      if (graph != "hnsw" && graph != "exact")
        throw Error("dba: graph must be hnsw or exact, got '" + graph + "'");
      return std::make_unique<DbaRerank>(qe::embedding_param(p, "dba"), k,
                                         static_cast<float>(alpha), qe_n, graph);
    });

}  // namespace
}  // namespace hamster
