// kreciprocal: k-reciprocal re-ranking (Zhong, Zheng, Cao, Li: "Re-ranking Person
// Re-identification with k-reciprocal Encoding", CVPR 2017), on the query's universe: the
// query and its shortlist (rerankers/universe.h).
//
// The paper's formulae, with p, g members of the universe:
//   d(p, g)   the original distance: the squared Euclidean distance of unit vectors,
//             2 - 2 cos, divided by the largest one from p to any member (as the authors'
//             code does, so each probe's distances lie in [0, 1]);
//   N(p, k)   p's k + 1 nearest members by d, p itself first;
//   R(p, k)   the g in N(p, k) with p in N(g, k);
//   R*(p)     R(p, k1) plus R(c, h) for each c in R(p, k1) with
//             |R(c, h) & R(p, k1)| >= 2/3 |R(c, h)|, h = k1 / 2 rounded to nearest, ties to
//             even (the paper's Eq. 6; the authors' code tests > 2/3);
//   V_p       exp(-d(p, g)) on each g of R*(p), normalised to sum 1;
//   local query expansion: V_p replaced by the mean of V over N(p, k2 - 1) (k2 members, p
//             among them);
//   d_J(q, g) = 1 - sum min(V_q, V_g) / sum max(V_q, V_g), sum max = 2 - sum min;
//   score     (1 - lambda) d_J(q, g) + lambda d(q, g); lower is better.
// Defaults are the paper's: k1 = 20, k2 = 6, lambda = 0.3.
#include <cmath>
#include <utility>

#include "rerankers/universe.h"

namespace hamster {
namespace {

using universe::Matrix;
using universe::NearestMembers;

// R(i, k): sorted member ids.
std::vector<int32_t> reciprocal(const NearestMembers& nearest, int32_t i, int k) {
  std::vector<int32_t> r;
  const int count = std::min(k + 1, nearest.width());
  for (int t = 0; t < count; ++t) {
    const int32_t g = nearest.row(i)[t];
    if (nearest.among_first(g, i, count)) r.push_back(g);
  }
  std::sort(r.begin(), r.end());
  return r;
}

size_t common_count(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  return both.size();
}

// (1 - lambda) d_J(q, g) + lambda d(q, g) for each shortlist member g, from the final V.
std::vector<float> final_scores(const Matrix& v, const std::vector<float>& query_distances,
                                float lambda) {
  std::vector<float> scores(query_distances.size());
  for (size_t g = 0; g < scores.size(); ++g) {
    const float shared = v.row(0).cwiseMin(v.row(g + 1)).sum();
    const float jaccard = 1 - shared / (2 - shared);
    scores[g] = (1 - lambda) * jaccard + lambda * query_distances[g];
  }
  return scores;
}

// The k-reciprocal re-ranking of one universe, given its cosine matrix w.s (w.a, w.b:
// scratch): the score of each shortlist member (members 1..n-1) against the query (member 0).
std::vector<float> kreciprocal_scores(universe::Workspace& w, int k1, int k2, float lambda) {
  const Matrix& s = w.s;
  const int64_t n = s.rows();
  // d(p, g) = (2 - 2 cos) / max over g, row by row.
  Matrix& d = w.a;
  d = (2 - 2 * s.array()).cwiseMax(0.0f).matrix();
  for (int64_t i = 0; i < n; ++i) {
    const float largest = d.row(i).maxCoeff();
    if (largest > 0) d.row(i) /= largest;
  }
  // Ranking by cosine is ranking by d: each row's scaling keeps its order.
  const NearestMembers nearest(s, std::max(k1 + 1, k2));
  const int h = static_cast<int>(std::nearbyint(k1 / 2.0));

  std::vector<std::vector<int32_t>> half(n);
  for (int32_t i = 0; i < n; ++i) half[i] = reciprocal(nearest, i, h);

  Matrix& v = w.b;
  v.setZero(n, n);
  for (int32_t p = 0; p < n; ++p) {
    const std::vector<int32_t> r = reciprocal(nearest, p, k1);
    std::vector<int32_t> expanded = r;
    for (int32_t c : r) {
      const std::vector<int32_t>& rc = half[c];
      if (3 * common_count(rc, r) >= 2 * rc.size()) {
        std::vector<int32_t> merged;
        std::set_union(expanded.begin(), expanded.end(), rc.begin(), rc.end(),
                       std::back_inserter(merged));
        expanded = std::move(merged);
      }
    }
    float total = 0;
    for (int32_t g : expanded) total += v(p, g) = std::exp(-d(p, g));
    for (int32_t g : expanded) v(p, g) /= total;
  }

  if (k2 > 1) {
    // The distances are no longer needed: their matrix holds the expanded V.
    const int count = std::min(k2, nearest.width());
    Matrix& expanded = w.a;
    const std::vector<float> query_distances(d.row(0).data() + 1, d.row(0).data() + n);
    expanded.setZero(n, n);
    for (int64_t p = 0; p < n; ++p) {
      for (int t = 0; t < count; ++t) expanded.row(p) += v.row(nearest.row(p)[t]);
      expanded.row(p) /= static_cast<float>(count);
    }
    return final_scores(expanded, query_distances, lambda);
  }
  return final_scores(v, std::vector<float>(d.row(0).data() + 1, d.row(0).data() + n), lambda);
}

class KReciprocalRerank final : public universe::UniverseRerank {
 public:
  KReciprocalRerank(std::string embedding, int k1, int k2, float lambda)
      : UniverseRerank("kreciprocal", std::move(embedding)), k1_(k1), k2_(k2), lambda_(lambda) {}

 private:
  std::vector<float> scores(universe::Workspace& w) const override {
    return kreciprocal_scores(w, k1_, k2_, lambda_);
  }

  int k1_, k2_;
  float lambda_;
};

const RegisterReranker kRegisterKReciprocal(
    "kreciprocal",
    "k-reciprocal re-ranking (Zhong et al.) over the query and its shortlist: Jaccard distance "
    "of k-reciprocal neighbourhoods blended with the original distance",
    {{"k1", "20", "k-reciprocal neighbourhood size (>= 1)"},
     {"k2", "6", "local query expansion size, the item itself included (>= 1)"},
     {"lambda", "0.3", "weight of the original distance, in [0, 1] (1 = plain cosine order)"},
     qe::embedding_spec()},
    [](const Params& p) {
      const int k1 = p.get_int("k1"), k2 = p.get_int("k2");
      if (k1 < 1) throw Error("kreciprocal: k1 must be >= 1, got " + std::to_string(k1));
      if (k2 < 1) throw Error("kreciprocal: k2 must be >= 1, got " + std::to_string(k2));
      const double lambda = p.get_double("lambda");
      if (lambda < 0 || lambda > 1)
        throw Error("kreciprocal: lambda must be in [0, 1], got " + p.get_string("lambda"));
      return std::make_unique<KReciprocalRerank>(qe::embedding_param(p, "kreciprocal"), k1, k2,
                                                 static_cast<float>(lambda));
    });

}  // namespace
}  // namespace hamster
