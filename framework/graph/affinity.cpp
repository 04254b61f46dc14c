#include "framework/graph/affinity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/error.h"

namespace hamster {

namespace {

// Whether item j lists item i among its neighbours.
bool lists(const KnnGraph& g, int64_t j, int64_t i) {
  const int32_t* row = g.neighbours(j);
  return std::find(row, row + g.k, static_cast<int32_t>(i)) != row + g.k;
}

}  // namespace

SparseMatrix affinity_matrix(const KnnGraph& graph, const AffinityOptions& options) {
  if (!(options.gamma >= 0 && std::isfinite(options.gamma)))
    throw Error(fmt::format("affinity: gamma = {} must be finite and >= 0", options.gamma));
  using Triplet = Eigen::Triplet<float, int64_t>;
  std::vector<Triplet> edges;
  edges.reserve(2 * graph.n * graph.k);
  for (int64_t i = 0; i < graph.n; ++i) {
    for (int j = 0; j < graph.k; ++j) {
      const int64_t to = graph.neighbours(i)[j];
      if (to == i || (options.mutual && !lists(graph, to, i))) continue;
      // max(0, s)^gamma: an edge clipped to zero (or underflowing) is no edge at all.
      const float s = graph.similarities(i)[j];
      const float w = s > 0 ? std::pow(s, options.gamma) : 0.0f;
      if (w == 0) continue;
      edges.emplace_back(i, to, w);
      edges.emplace_back(to, i, w);
    }
  }
  SparseMatrix a(graph.n, graph.n);
  // An edge both ends list comes twice from each side: keep the larger weight.
  a.setFromTriplets(edges.begin(), edges.end(), [](float x, float y) { return std::max(x, y); });
  return a;
}

void normalise_affinity_in_place(SparseMatrix& a) {
  // Row sums are the degrees (A is symmetric), read straight off the compressed rows.
  std::vector<float> scale(a.rows(), 0.0f);
  for (int64_t i = 0; i < a.outerSize(); ++i) {
    float degree = 0;
    for (SparseMatrix::InnerIterator it(a, i); it; ++it) degree += it.value();
    scale[i] = degree > 0 ? 1 / std::sqrt(degree) : 0;
  }
  for (int64_t i = 0; i < a.outerSize(); ++i)
    for (SparseMatrix::InnerIterator it(a, i); it; ++it)
      // One product of the two scales, so s_ij and s_ji round alike and S stays symmetric.
      it.valueRef() *= scale[it.row()] * scale[it.col()];
}

SparseMatrix normalised_affinity(const SparseMatrix& a) {
  SparseMatrix s = a;
  normalise_affinity_in_place(s);
  return s;
}

}  // namespace hamster
