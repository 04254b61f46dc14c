// spectral: fast spectral ranking (Iscen et al., CVPR 2018). Diffusion's solution
// f = (1 - alpha)(I - alpha S)^-1 y is approximated offline through the top r eigenpairs
// (U, Lambda) of S: f ~ U h(Lambda) U^T y with h(l) = (1 - alpha) / (1 - alpha l). Each
// database item gets the embedding Psi_j = (U h(Lambda)^1/2)_j, the query
// psi_q = sum_j y_j Psi_j over its seeds, and f_j = Psi_j . psi_q, so a query costs
// O((kq + L) r) after the offline eigendecomposition.
// Seeds, as the paper's query vector: the query's kq nearest items of the whole database,
// y_j = max(0, cos)^gamma, found through the kNN graph (query_neighbours.h, as diffusion's);
// seeds = shortlist takes them from the shortlist instead (hamster's earlier variant).
// The graph is the union kNN graph by default. The mutual one (diffusion's, and the
// reference codes') gains more at rank 1,000 on every validation build, but it falls apart
// into many small components, each an eigenvalue of exactly 1: where they outnumber the rank
// (the raw-pixel graph of Fashion-MNIST at rank 100) the kept pairs are an arbitrary basis
// of that eigenspace and the ranking is no longer defined. So mutual: true is set where the
// rank is known to clear them (rerankers.yaml, rank 1,000), not by default.
#include <tbb/enumerable_thread_specific.h>

#include "framework/error.h"
#include "framework/graph/shared.h"
#include "framework/reranker.h"
#include "rerankers/diffusion/graph_params.h"
#include "rerankers/diffusion/query_neighbours.h"
#include "rerankers/score_sort.h"

namespace hamster {
namespace {

const char* const kName = "spectral";

struct SpectralOptions : GraphRankOptions {
  int rank = 100;
  std::string solver = "subspace";
};

void check(bool ok, const std::string& message) {
  if (!ok) throw Error(std::string(kName) + ": " + message);
}

SpectralOptions read_options(const Params& p) {
  SpectralOptions o;
  static_cast<GraphRankOptions&>(o) = read_graph_rank_options(p, kName);
  o.rank = p.get_int("rank");
  check(o.rank >= 1, "rank must be >= 1, got " + std::to_string(o.rank));
  o.solver = p.get_string("solver");
  check(o.solver == "subspace" || o.solver == "lanczos",
        "solver must be subspace or lanczos, got '" + o.solver + "'");
  return o;
}

// Psi = U h(Lambda)^1/2, n x r. Eigenvalues of S lie in [-1, 1] and alpha < 1, so
// 1 - alpha l > 0 and h > 0.
Embedding spectral_embedding(const Eigenpairs& pairs, double alpha) {
  Embedding psi = pairs.vectors;
  for (Eigen::Index c = 0; c < psi.cols(); ++c) {
    const double h = (1 - alpha) / (1 - alpha * static_cast<double>(pairs.values[c]));
    psi.col(c) *= static_cast<float>(std::sqrt(h));
  }
  return psi;
}

// Names everything Psi depends on: r and alpha, then the affinity's key (the embedding and
// every graph and affinity option).
std::string embedding_key(const SpectralOptions& o) {
  return "spectral-psi-rank" + std::to_string(o.rank) + "-" + o.solver + "-alpha" +
         number_text(o.alpha) + "-" + affinity_key(o.embedding, o.graph, o.affinity);
}

class Spectral final : public Reranker {
 public:
  explicit Spectral(SpectralOptions options) : o_(std::move(options)) {}

  void prepare(const RerankContext& ctx) override {
    database_ = shared_normalised(ctx, o_.embedding);
    // Memory only (no disk form): n r floats, e.g. 69,000 x 100 x 4 B = 27.6 MB; the
    // eigenpairs it comes from (the same size again) are a separate, shared artefact.
    pairs_ = shared_eigenpairs(ctx, o_.embedding, o_.graph, o_.affinity, o_.rank, o_.solver);
    psi_ = ctx.artefacts.get<Embedding>(embedding_key(o_),
                                        [&] { return spectral_embedding(*pairs_, o_.alpha); });
    if (o_.searches_graph()) graph_ = shared_knn_graph(ctx, o_.embedding, o_.graph);
    marks_ = std::make_unique<tbb::enumerable_thread_specific<VisitMarks>>();
  }

  std::vector<std::string> artefacts() const override {
    return unique_keys(
        {normalised_artefacts(o_.embedding),
         eigenpairs_artefacts(o_.embedding, o_.graph, o_.affinity, o_.rank, o_.solver),
         {embedding_key(o_)},
         o_.searches_graph() ? knn_graph_artefacts(o_.embedding, o_.graph)
                             : std::vector<std::string>{}});
  }

  std::map<std::string, double> diagnostics() const override {
    if (!pairs_) return {};
    return {{"eigen_residual_max", pairs_->residual_max},
            {"eigen_passes", pairs_->passes},
            {"eigen_smallest_value", pairs_->values.size() ? pairs_->values.minCoeff() : 0.0f}};
  }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (!psi_) throw Error(std::string(kName) + ": rerank() before prepare()");
    rerank_by_similarities(
        queries, lists, o_.embedding, *database_, kName,
        [&](int64_t, const Eigen::RowVectorXf& query, const std::vector<float>& sims,
            const Shortlist& list) { return scores(query, sims, list); });
  }

 private:
  // -Psi_j . psi_q per shortlist position; all zero (stage-1 order kept) without seeds.
  std::vector<float> scores(const Eigen::RowVectorXf& query, const std::vector<float>& sims,
                            const Shortlist& list) const {
    Eigen::RowVectorXf psi_q = Eigen::RowVectorXf::Zero(psi_->cols());
    for (const WeightedId& seed :
         query_neighbours(query, *database_, graph_.get(), sims, list, o_.kq, o_.affinity.gamma,
                          !o_.graph_seeds, marks_->local()))
      psi_q += seed.weight * psi_->row(seed.id);
    std::vector<float> out(list.ids.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = -psi_->row(list.ids[i]).dot(psi_q);
    return out;
  }

  SpectralOptions o_;
  std::shared_ptr<const Embedding> database_;
  std::shared_ptr<const Eigenpairs> pairs_;
  std::shared_ptr<const Embedding> psi_;
  std::shared_ptr<const KnnGraph> graph_;  // for the seeds' graph search
  std::unique_ptr<tbb::enumerable_thread_specific<VisitMarks>> marks_;
};

const RegisterReranker kRegister(
    kName,
    "fast spectral ranking (Iscen et al. 2018): diffusion approximated by the top r eigenpairs "
    "of the database graph's S, scored as an r-dimensional inner product",
    graph_rank_specs(
        {{"rank", "100", "eigenpairs kept (r < database size)", true, true},
         {"solver", "subspace",
          "eigenpairs by subspace (Chebyshev-filtered subspace iteration, residual <= 1e-4) or "
          "lanczos (Spectra, residual <= 1e-6; slow above rank 100)"},
         {"kq", "10", "query seeds: its kq nearest database items"},
         {"seeds", "graph",
          "where seeds come from: graph (the whole database, through the graph) or shortlist"},
         {"embedding", "feature", "feature (deep feature) or real (hash layer output)"},
         {"mutual", "false", "keep only mutual kNN edges"}}),
    [](const Params& p) { return std::make_unique<Spectral>(read_options(p)); });

}  // namespace
}  // namespace hamster
