// diffusion: truncated manifold diffusion (Iscen et al., CVPR 2017, their large-scale
// setting). Over S = D^-1/2 A D^-1/2 of the database kNN graph (a_ij = max(0, cos)^gamma),
// each query solves (I - alpha S_T) f = y by conjugate gradient on the subgraph T its
// shortlist spans, then ranks the shortlist by f. y seeds the query's kq most similar
// shortlist items (seeds.h). Restricting S to T keeps the cost per query at O(|T| k) and
// makes the system well posed: a principal submatrix of S has spectral radius <= 1.
#include <tbb/enumerable_thread_specific.h>

#include "framework/error.h"
#include "framework/graph/shared.h"
#include "framework/reranker.h"
#include "rerankers/diffusion/graph_params.h"
#include "rerankers/diffusion/seeds.h"
#include "rerankers/diffusion/subgraph.h"
#include "rerankers/score_sort.h"

namespace hamster {
namespace {

const char* const kName = "diffusion";

struct DiffusionOptions : GraphRankOptions {
  float tol = 1e-6f;
  int iterations = 20;
  bool with_neighbours = false;  // truncate = neighbours: T also holds the shortlist's
                                 // graph neighbours (a larger, slower system)
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
  const std::string truncate = p.get_string("truncate");
  check(tol > 0, "tol must be > 0, got " + number_text(tol));
  check(o.iterations >= 1, "iterations must be >= 1, got " + std::to_string(o.iterations));
  check(truncate == "shortlist" || truncate == "neighbours",
        "truncate must be shortlist or neighbours, got '" + truncate + "'");
  o.with_neighbours = truncate == "neighbours";
  return o;
}

class Diffusion final : public Reranker {
 public:
  explicit Diffusion(DiffusionOptions options) : o_(std::move(options)) {}

  void prepare(const RerankContext& ctx) override {
    database_ = shared_normalised(ctx, o_.embedding);
    s_ = shared_affinity(ctx, o_.embedding, o_.graph, o_.affinity);
    if (!s_->isCompressed()) {  // Subgraph reads the compressed arrays directly
      auto compressed = std::make_shared<SparseMatrix>(*s_);
      compressed->makeCompressed();
      s_ = std::move(compressed);
    }
    const int64_t n = database_->rows();
    local_of_ = std::make_unique<tbb::enumerable_thread_specific<std::vector<int32_t>>>(
        [n] { return std::vector<int32_t>(n, -1); });
  }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (!s_) throw Error(std::string(kName) + ": rerank() before prepare()");
    rerank_by_similarities(
        queries, lists, o_.embedding, *database_, kName,
        [&](const std::vector<float>& sims, const Shortlist& list) { return scores(sims, list); });
  }

 private:
  // -f per shortlist position from the query's similarities to it; all zero (stage-1 order
  // kept) when no seed is positive.
  std::vector<float> scores(const std::vector<float>& sims, const Shortlist& list) const {
    const std::vector<Seed> seeds = query_seeds(sims, o_.kq, o_.affinity.gamma);
    std::vector<float> out(list.ids.size(), 0.0f);
    if (seeds.empty()) return out;

    Subgraph t(local_of_->local());
    std::vector<int32_t> local(list.ids.size());
    for (size_t i = 0; i < local.size(); ++i) local[i] = t.add(list.ids[i]);
    if (o_.with_neighbours) t.add_neighbours(*s_);
    const SparseMatrix s_t = t.submatrix(*s_);

    Eigen::VectorXf y = Eigen::VectorXf::Zero(t.size());
    for (const Seed& seed : seeds) y[local[seed.position]] = seed.weight;
    Eigen::VectorXf f = Eigen::VectorXf::Zero(t.size());
    conjugate_gradient(s_t, static_cast<float>(o_.alpha), y, f, o_.tol, o_.iterations);
    for (size_t i = 0; i < out.size(); ++i) out[i] = -f[local[i]];
    return out;
  }

  DiffusionOptions o_;
  std::shared_ptr<const Embedding> database_;
  std::shared_ptr<const SparseMatrix> s_;
  // Per-thread global -> local index of the query's subgraph (n entries, -1 between queries).
  std::unique_ptr<tbb::enumerable_thread_specific<std::vector<int32_t>>> local_of_;
};

const RegisterReranker kRegister(
    kName,
    "truncated diffusion (Iscen et al. 2017): solve (I - alpha S) f = y by conjugate gradient "
    "on the shortlist's subgraph of the database kNN graph, rank by f",
    {{"k", "50", "graph neighbours per database item"},
     {"gamma", "3", "affinity exponent: a_ij = max(0, cos)^gamma"},
     {"alpha", "0.99", "diffusion weight in [0, 1)"},
     {"kq", "10", "query seeds: its kq most similar shortlist items"},
     {"tol", "1e-6", "conjugate gradient: relative residual to stop at"},
     {"iterations", "20", "conjugate gradient: most iterations"},
     {"embedding", "feature", "feature (deep feature) or real (hash layer output)"},
     {"mutual", "false", "keep only mutual kNN edges"},
     {"truncate", "shortlist",
      "subgraph solved on: shortlist, or neighbours (the shortlist and its graph neighbours)"}},
    [](const Params& p) { return std::make_unique<Diffusion>(read_options(p)); });

}  // namespace
}  // namespace hamster
