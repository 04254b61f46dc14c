// gcr: graph-convolution re-ranking (Zhang, Qian, Wang, Liu, Chen, Wang: "Graph Convolution
// Based Efficient Re-Ranking for Visual Retrieval", IEEE TMM 2023), on the query's universe:
// the query and its shortlist (rerankers/universe.h).
//
// GCR re-ranks by updating features, not distances: each round is one graph convolution
// over the members' top-k1 graph, and the gallery is then ranked by the cosine of the
// updated features. One round, with X the members' unit rows and s_ij = x_i . x_j:
//   S         s-kernel on the top-k1 graph: S_ij = exp(s_ij / beta) when j is among i's k1
//             most similar members, S_ii = exp(s_ii / beta) always, else 0 (not symmetric);
//   L         D_row^-1/2 S D_col^-1/2, with S's row sums and column sums (the paper's
//             normalised adjacency for a directed graph);
//   X         <- L X, rows scaled to unit length.
// `rounds` rounds (the authors' GAL_ROUND), the graph rebuilt from the updated X each time;
// the score of gallery member g is -x_q . x_g, lower better.
// exp(s / beta) is computed as exp((s - 1) / beta): a common factor cancels in L, and it
// keeps small beta from overflowing float.
// Defaults are the authors' released configuration: k1 = 45, beta = 0.08, 3 rounds. Their
// cross-camera term (scale, k2, beta2) needs camera labels that image retrieval does not
// have; with one camera GCR is the term above alone.
#include <algorithm>
#include <cmath>
#include <utility>

#include "framework/floats8.h"
#include "framework/graph/gram.h"
#include "rerankers/universe.h"

namespace hamster {
namespace {

using universe::Matrix;
using universe::NearestMembers;

// out = L x for a sparse L in compressed rows (start, ids, l) and dense row-major x (n x d):
// out_i = sum over i's edges e of l[e] x_ids[e]. Columns go 64 at a time, so that the strip
// of x being read (n x 64 floats, 256 KB at L = 1,000) stays in cache while every row's
// edges gather from it, and each output strip is summed in eight vector registers (plain
// loops over a float array were left scalar by the compiler: 10x slower, measured).
[[gnu::always_inline]] inline void sparse_times_dense(const int64_t* start, const int32_t* ids,
                                                      const float* l, const float* x, int64_t n,
                                                      int64_t d, float* out) {
  constexpr int kVectors = 8, kStrip = 8 * kVectors;
  const int64_t whole = d / kStrip * kStrip;
  for (int64_t begin = 0; begin < whole; begin += kStrip) {
    for (int64_t i = 0; i < n; ++i) {
      Floats8 acc[kVectors] = {};
      for (int64_t e = start[i]; e < start[i + 1]; ++e) {
        const Floats8* row = reinterpret_cast<const Floats8*>(x + ids[e] * d + begin);
        const float w = l[e];
        for (int v = 0; v < kVectors; ++v) acc[v] += w * row[v];
      }
      Floats8* to = reinterpret_cast<Floats8*>(out + i * d + begin);
      for (int v = 0; v < kVectors; ++v) to[v] = acc[v];
    }
  }
  for (int64_t i = 0; i < n; ++i)  // the last d % 64 columns
    for (int64_t k = whole; k < d; ++k) {
      float sum = 0;
      for (int64_t e = start[i]; e < start[i + 1]; ++e) sum += l[e] * x[ids[e] * d + k];
      out[i * d + k] = sum;
    }
}

// The same loop for AVX2 with FMA, chosen at run time (the build targets baseline x86-64).
[[gnu::target("avx2,fma")]] void sparse_times_dense_avx2(const int64_t* start, const int32_t* ids,
                                                         const float* l, const float* x, int64_t n,
                                                         int64_t d, float* out) {
  sparse_times_dense(start, ids, l, x, n, d, out);
}

void sparse_times_dense_baseline(const int64_t* start, const int32_t* ids, const float* l,
                                 const float* x, int64_t n, int64_t d, float* out) {
  sparse_times_dense(start, ids, l, x, n, d, out);
}

// One graph convolution of the unit rows x, given their cosines s; the result, with unit
// rows, goes to out.
void convolve(const Matrix& x, const Matrix& s, int k1, float beta, Matrix& out) {
  const int64_t n = x.rows();
  const NearestMembers nearest(s, k1);
  const int width = nearest.width();
  // Row i's edges: its `width` nearest, and itself when it is not among them.
  std::vector<int32_t> ids;
  std::vector<float> weights;
  std::vector<int64_t> start(n + 1, 0);
  std::vector<double> row_sum(n, 0.0), col_sum(n, 0.0);
  ids.reserve(n * (width + 1));
  weights.reserve(n * (width + 1));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t* near = nearest.row(i);
    auto add = [&](int32_t j) {
      const float w = std::exp((s(i, j) - 1.0f) / beta);
      ids.push_back(j);
      weights.push_back(w);
      row_sum[i] += w;
      col_sum[j] += w;
    };
    for (int t = 0; t < width; ++t) add(near[t]);
    if (!nearest.among_first(i, static_cast<int32_t>(i), width)) add(static_cast<int32_t>(i));
    start[i + 1] = static_cast<int64_t>(ids.size());
  }
  static const auto kernel = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                                 ? sparse_times_dense_avx2
                                 : sparse_times_dense_baseline;
  for (int64_t i = 0; i < n; ++i)  // S's entries become L's in place
    for (int64_t e = start[i]; e < start[i + 1]; ++e)
      weights[e] = static_cast<float>(weights[e] / std::sqrt(row_sum[i] * col_sum[ids[e]]));
  out.resize(n, x.cols());
  kernel(start.data(), ids.data(), weights.data(), x.data(), n, x.cols(), out.data());
  // Never a zero row: the self edge keeps a positive weight on x_i.
  for (int64_t i = 0; i < n; ++i) out.row(i).normalize();
}

std::vector<float> gcr_scores(universe::Workspace& w, int k1, float beta, int rounds) {
  const int64_t n = w.s.rows();
  for (int round = 0; round < rounds; ++round) {
    if (round > 0) {
      gram(w.x, w.s);
      w.s.diagonal().setOnes();  // as universe::similarities: no rounding decides self
    }
    convolve(w.x, w.s, k1, beta, w.a);
    std::swap(w.x, w.a);
  }
  std::vector<float> scores(n - 1);
  for (int64_t g = 1; g < n; ++g) scores[g - 1] = -w.x.row(0).dot(w.x.row(g));
  return scores;
}

class GcrRerank final : public universe::UniverseRerank {
 public:
  GcrRerank(std::string embedding, int k1, float beta, int rounds)
      : UniverseRerank("gcr", std::move(embedding)), k1_(k1), beta_(beta), rounds_(rounds) {}

 private:
  std::vector<float> scores(universe::Workspace& w) const override {
    return gcr_scores(w, k1_, beta_, rounds_);
  }

  int k1_;
  float beta_;
  int rounds_;
};

const RegisterReranker kRegisterGcr(
    "gcr",
    "graph-convolution re-ranking (Zhang et al. TMM 2023) over the query and its shortlist: "
    "features averaged over the top-k1 graph, rounds times, then compared by cosine",
    {{"k1", "45", "neighbours each member's features are averaged over (>= 1)"},
     {"beta", "0.08", "kernel width: an edge weighs exp(cos / beta) (> 0)"},
     {"rounds", "3", "graph convolutions, the graph rebuilt from the updated features (>= 1)"},
     qe::embedding_spec()},
    [](const Params& p) {
      const int k1 = p.get_int("k1"), rounds = p.get_int("rounds");
      const double beta = p.get_double("beta");
      if (k1 < 1) throw Error("gcr: k1 must be >= 1, got " + std::to_string(k1));
      if (!(beta > 0)) throw Error("gcr: beta must be > 0, got " + p.get_string("beta"));
      if (rounds < 1) throw Error("gcr: rounds must be >= 1, got " + std::to_string(rounds));
      return std::make_unique<GcrRerank>(qe::embedding_param(p, "gcr"), k1,
                                         static_cast<float>(beta), rounds);
    });

}  // namespace
}  // namespace hamster
