#pragma once
// Sparse affinity matrices over a kNN graph (Eigen), as diffusion and spectral ranking use
// them (Iscen et al., CVPR 2017): a_ij = max(0, s_ij)^gamma for j among i's neighbours,
// made symmetric, then normalised S = D^-1/2 A D^-1/2.
#include <Eigen/SparseCore>

#include "framework/graph/knn_graph.h"

namespace hamster {

using SparseMatrix = Eigen::SparseMatrix<float, Eigen::RowMajor, int64_t>;

struct AffinityOptions {
  float gamma = 3;      // similarity exponent
  bool mutual = false;  // keep an edge only when each end lists the other (mutual kNN)
};

// Symmetric A, zero diagonal. Without `mutual`, an edge listed by either end is kept, with
// weight max of the two directions' weights (equal up to rounding).
SparseMatrix affinity_matrix(const KnnGraph& graph, const AffinityOptions& options);

// S = D^-1/2 A D^-1/2 with d_i = sum_j a_ij. An isolated node (d_i = 0) keeps an empty row
// and column instead of dividing by zero.
SparseMatrix normalised_affinity(const SparseMatrix& a);
// The same, in place (a query's subgraph in truncated diffusion).
void normalise_affinity_in_place(SparseMatrix& a);

}  // namespace hamster
