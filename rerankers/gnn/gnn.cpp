// gnn: GNN re-ranking (Zhang, Jiang, Wang, Zhang, Zhang, Hua, Yu, Xu, Li: "Understanding
// Image Retrieval Re-Ranking: A Graph Neural Network Perspective", 2020), on the query's
// universe: the query and its shortlist (rerankers/universe.h).
//
// The paper replaces k-reciprocal's sets by message passing over a sparse top-k graph:
//   A         a_ij = 1 when j is among i's k1 most cosine-similar members (i itself among
//             them), else 0: each member's feature is its row of A;
//   layer     A <- A + A^T (the graph made symmetric), then each row becomes the weighted sum
//             of the rows of its k2 most similar members, weights cos^2 (itself, weight 1,
//             among them), then is scaled to unit length; `layers` times (the paper: 2);
//   score     -A_q . A_g, the cosine of the propagated rows; lower is better.
// k2 = 1 skips the layers, as the authors' code does: the rows of A are compared as they are
// (the count of shared neighbours).
// Defaults are the paper's for Market-1501: k1 = 26, k2 = 7, two layers.
#include <utility>

#include "rerankers/universe.h"

namespace hamster {
namespace {

using universe::Matrix;
using universe::NearestMembers;

// The scores of one universe, given its cosine matrix w.s (w.a, w.b: scratch).
std::vector<float> gnn_scores(universe::Workspace& w, int k1, int k2, int layers) {
  const Matrix& s = w.s;
  const int64_t n = s.rows();
  const NearestMembers nearest(s, std::max(k1, k2));
  const int first = std::min(k1, nearest.width()), second = std::min(k2, nearest.width());
  Matrix& a = w.a;
  Matrix& next = w.b;
  a.setZero(n, n);
  next.resize(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int t = 0; t < first; ++t) a(i, nearest.row(i)[t]) = 1;
  for (int layer = 0; second > 1 && layer < layers; ++layer) {
    universe::add_transpose(a);
    next.setZero();
    for (int64_t i = 0; i < n; ++i) {
      for (int t = 0; t < second; ++t) {
        const int32_t j = nearest.row(i)[t];
        next.row(i) += s(i, j) * s(i, j) * a.row(j);
      }
      const float norm = next.row(i).norm();
      if (norm > 0) next.row(i) /= norm;
    }
    std::swap(a, next);
  }
  std::vector<float> scores(n - 1);
  for (int64_t g = 1; g < n; ++g) scores[g - 1] = -a.row(0).dot(a.row(g));
  return scores;
}

class GnnRerank final : public universe::UniverseRerank {
 public:
  GnnRerank(std::string embedding, int k1, int k2, int layers)
      : UniverseRerank("gnn", std::move(embedding)), k1_(k1), k2_(k2), layers_(layers) {}

 private:
  std::vector<float> scores(universe::Workspace& w) const override {
    return gnn_scores(w, k1_, k2_, layers_);
  }

  int k1_, k2_, layers_;
};

const RegisterReranker kRegisterGnn(
    "gnn",
    "GNN re-ranking (Zhang et al. 2020) over the query and its shortlist: message passing on "
    "the top-k1 graph, rows compared by cosine",
    {{"k1", "26", "neighbours in the adjacency graph, the item itself included (>= 1)"},
     {"k2", "7", "neighbours each row aggregates, the item itself included (>= 1)"},
     {"layers", "2", "message-passing layers (>= 1)"},
     qe::embedding_spec()},
    [](const Params& p) {
      const int k1 = p.get_int("k1"), k2 = p.get_int("k2"), layers = p.get_int("layers");
      if (k1 < 1) throw Error("gnn: k1 must be >= 1, got " + std::to_string(k1));
      if (k2 < 1) throw Error("gnn: k2 must be >= 1, got " + std::to_string(k2));
      if (layers < 1) throw Error("gnn: layers must be >= 1, got " + std::to_string(layers));
      return std::make_unique<GnnRerank>(qe::embedding_param(p, "gnn"), k1, k2, layers);
    });

}  // namespace
}  // namespace hamster
