// diffusion: truncated manifold diffusion (Iscen et al., CVPR 2017, their large-scale
// setting), as their code runs it.
//   - Graph: the database's mutual kNN graph (k), a_ij = max(0, cos)^gamma.
//   - Seeds: y_j = max(0, cos(q, x_j))^gamma over the query's kq nearest database items
//     (graph_search.h: exact over an exact graph, a graph search over an hnsw one).
//   - Truncation: the system is solved on the query's subgraph T (the shortlist, the seeds
//     and, with truncate = neighbours, their graph neighbours) with A_T renormalised over T,
//     S_T = D_T^-1/2 A_T D_T^-1/2, which keeps alpha's meaning on the subgraph. truncate =
//     none solves on the whole graph (the ground truth truncation approximates).
//   - (I - alpha S_T) f = y by conjugate gradient; the shortlist is ranked by f. Items f
//     never reached (f = 0: no path from a seed within the iterations) follow, ordered by
//     cosine similarity to the query.
// renormalise = false with truncate = shortlist, seeds = shortlist and mutual = false is
// hamster's earlier variant (entries of the global S copied into T), kept for comparison.
#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <cmath>

#include "framework/error.h"
#include "framework/graph/shared.h"
#include "framework/reranker.h"
#include "rerankers/diffusion/graph_params.h"
#include "rerankers/diffusion/query_neighbours.h"
#include "rerankers/diffusion/subgraph.h"
#include "rerankers/score_sort.h"

namespace hamster {
namespace {

const char* const kName = "diffusion";

struct DiffusionOptions : GraphRankOptions {
  float tol = 1e-6f;
  int iterations = 20;
  std::string truncate = "neighbours";  // shortlist, neighbours or none
  bool renormalise = true;
};

void check(bool ok, const std::string& message) {
  if (!ok) throw Error(std::string(kName) + ": " + message);
}

DiffusionOptions read_options(const Params& p) {
  DiffusionOptions o;
  static_cast<GraphRankOptions&>(o) = read_graph_rank_options(p, kName);
  const double tol = p.get_double("tol");
  o.tol = static_cast<float>(tol);
  o.iterations = p.get_int("iterations");
  o.truncate = p.get_string("truncate");
  o.renormalise = p.get_bool("renormalise");
  check(tol > 0, "tol must be > 0, got " + number_text(tol));
  check(o.iterations >= 1, "iterations must be >= 1, got " + std::to_string(o.iterations));
  check(o.truncate == "shortlist" || o.truncate == "neighbours" || o.truncate == "none",
        "truncate must be shortlist, neighbours or none, got '" + o.truncate + "'");
  return o;
}

// What one query's solve leaves for the record.
struct Solve {
  int iterations = 0;
  float residual = 0;
  int64_t nodes = 0;  // |T|
};

struct Scratch {
  std::vector<int32_t> local_of;  // Subgraph's global -> local index, -1 between queries
  VisitMarks marks;               // graph search
};

class Diffusion final : public Reranker {
 public:
  explicit Diffusion(DiffusionOptions options) : o_(std::move(options)) {}

  void prepare(const RerankContext& ctx) override {
    database_ = shared_normalised(ctx, o_.embedding);
    if (global())
      s_ = shared_affinity(ctx, o_.embedding, o_.graph, o_.affinity);
    else
      a_ = shared_raw_affinity(ctx, o_.embedding, o_.graph, o_.affinity);
    if (o_.searches_graph()) graph_ = shared_knn_graph(ctx, o_.embedding, o_.graph);
    const int64_t n = database_->rows();
    scratch_ = std::make_unique<tbb::enumerable_thread_specific<Scratch>>([n] {
      return Scratch{std::vector<int32_t>(n, -1), {}};
    });
  }

  std::vector<std::string> artefacts() const override {
    const std::string& e = o_.embedding;
    return unique_keys(
        {normalised_artefacts(e),
         global() ? affinity_artefacts(e, o_.graph, o_.affinity)
                  : raw_affinity_artefacts(e, o_.graph, o_.affinity),
         o_.searches_graph() ? knn_graph_artefacts(e, o_.graph) : std::vector<std::string>{}});
  }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (!scratch_) throw Error(std::string(kName) + ": rerank() before prepare()");
    std::vector<Solve> solves(lists.size());
    rerank_by_similarities(
        queries, lists, o_.embedding, *database_, kName,
        [&](int64_t i, const Eigen::RowVectorXf& query, const std::vector<float>& sims,
            const Shortlist& list) { return scores(query, sims, list, solves[i]); });
    summarise(solves);
  }

  std::map<std::string, double> diagnostics() const override { return stats_; }

 private:
  // Per shortlist position: -f where f > 0, else 2 - cos (after every reached item, in
  // cosine order).
  std::vector<float> scores(const Eigen::RowVectorXf& query, const std::vector<float>& sims,
                            const Shortlist& list, Solve& solve) const {
    Scratch& scratch = scratch_->local();
    const std::vector<WeightedId> y_entries =
        query_neighbours(query, *database_, graph_.get(), sims, list, o_.kq, o_.affinity.gamma,
                         !o_.graph_seeds, scratch.marks);
    std::vector<float> f_of(list.ids.size(), 0.0f);
    if (!y_entries.empty()) {
      if (o_.truncate == "none")
        solve_global(y_entries, list, f_of, solve);
      else
        solve_truncated(y_entries, list, scratch, f_of, solve);
    }
    std::vector<float> out(list.ids.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = f_of[i] > 0 ? -f_of[i] : 2 - sims[i];
    return out;
  }

  void solve_global(const std::vector<WeightedId>& y_entries, const Shortlist& list,
                    std::vector<float>& f_of, Solve& solve) const {
    Eigen::VectorXf y = Eigen::VectorXf::Zero(s_->rows());
    for (const WeightedId& e : y_entries) y[e.id] = e.weight;
    Eigen::VectorXf f = Eigen::VectorXf::Zero(y.size());
    const CgResult r =
        conjugate_gradient(*s_, static_cast<float>(o_.alpha), y, f, o_.tol, o_.iterations);
    solve = {r.iterations, r.residual, y.size()};
    for (size_t i = 0; i < f_of.size(); ++i) f_of[i] = f[list.ids[i]];
  }

  void solve_truncated(const std::vector<WeightedId>& y_entries, const Shortlist& list,
                       Scratch& scratch, std::vector<float>& f_of, Solve& solve) const {
    const SparseMatrix& graph = a_ ? *a_ : *s_;
    Subgraph t(scratch.local_of);
    std::vector<int32_t> local(list.ids.size());
    for (size_t i = 0; i < local.size(); ++i) local[i] = t.add(list.ids[i]);
    std::vector<int32_t> seed_local(y_entries.size());
    for (size_t i = 0; i < seed_local.size(); ++i) seed_local[i] = t.add(y_entries[i].id);
    if (o_.truncate == "neighbours") t.add_neighbours(graph);
    SparseMatrix s_t = t.submatrix(graph);
    if (a_) normalise_affinity_in_place(s_t);
    Eigen::VectorXf y = Eigen::VectorXf::Zero(t.size());
    for (size_t i = 0; i < seed_local.size(); ++i) y[seed_local[i]] = y_entries[i].weight;
    Eigen::VectorXf f = Eigen::VectorXf::Zero(t.size());
    const CgResult r =
        conjugate_gradient(s_t, static_cast<float>(o_.alpha), y, f, o_.tol, o_.iterations);
    solve = {r.iterations, r.residual, t.size()};
    for (size_t i = 0; i < f_of.size(); ++i) f_of[i] = f[local[i]];
  }

  void summarise(const std::vector<Solve>& solves) const {
    stats_.clear();
    if (solves.empty()) return;
    double iterations = 0, residual = 0, nodes = 0, max_iterations = 0, max_residual = 0;
    for (const Solve& s : solves) {
      iterations += s.iterations, residual += s.residual, nodes += static_cast<double>(s.nodes);
      max_iterations = std::max<double>(max_iterations, s.iterations);
      max_residual = std::max<double>(max_residual, s.residual);
    }
    const double n = static_cast<double>(solves.size());
    stats_ = {{"cg_iterations_mean", iterations / n},
              {"cg_iterations_max", max_iterations},
              {"cg_residual_mean", residual / n},
              {"cg_residual_max", max_residual},
              {"subgraph_nodes_mean", nodes / n}};
  }

  DiffusionOptions o_;
  std::shared_ptr<const Embedding> database_;
  std::shared_ptr<const SparseMatrix> a_;  // raw affinity (renormalised truncation)
  std::shared_ptr<const SparseMatrix> s_;  // global S (truncate = none, or renormalise = false)
  // On the whole graph's S, or on sub-graphs of A renormalised per query.
  bool global() const { return o_.truncate == "none" || !o_.renormalise; }

  std::shared_ptr<const KnnGraph> graph_;  // for the seeds' graph search
  std::unique_ptr<tbb::enumerable_thread_specific<Scratch>> scratch_;
  mutable std::map<std::string, double> stats_;  // of the last rerank()
};

const RegisterReranker kRegister(
    kName,
    "truncated diffusion (Iscen et al. 2017): solve (I - alpha S_T) f = y by conjugate "
    "gradient on the query's subgraph of the database kNN graph, renormalised, rank by f",
    graph_rank_specs(
        {{"kq", "10", "query seeds: its kq nearest database items"},
         {"seeds", "graph",
          "where seeds come from: graph (the whole database, through the graph) or shortlist"},
         {"tol", "1e-6", "conjugate gradient: relative residual to stop at"},
         {"iterations", "20", "conjugate gradient: most iterations"},
         {"embedding", "feature", "feature (deep feature) or real (hash layer output)"},
         {"mutual", "true", "keep only mutual kNN edges"},
         {"truncate", "neighbours",
          "subgraph solved on: shortlist (with the seeds), neighbours (also their graph "
          "neighbours), or none (the whole graph)"},
         {"renormalise", "true",
          "renormalise the affinity over the subgraph (false: copy entries of the global S)"}}),
    [](const Params& p) { return std::make_unique<Diffusion>(read_options(p)); });

}  // namespace
}  // namespace hamster
