#pragma once
// The top eigenpairs of a large sparse symmetric S at high rank (hundreds to thousands), by
// Chebyshev-filtered subspace iteration (Zhou & Saad, "A Chebyshev-Davidson algorithm",
// 2007; "Self-consistent-field calculations using Chebyshev-filtered subspace iteration",
// J. Comput. Phys. 2006). Each pass multiplies a block of b = rank + guard vectors by a
// degree-d Chebyshev polynomial of S that grows fast above a cut (a Ritz value inside the
// guard) and stays within [-1, 1] below it, then takes Ritz pairs (Rayleigh-Ritz). A pair
// within tol is locked: kept as it is, no longer filtered, the rest kept orthogonal to it,
// so later passes work on a smaller block. The work is sparse block products (S times b
// vectors, panel_product.h) and dense BLAS-3 (b x b Gram matrices, an n x b times b x b
// rotation), not the long Krylov bases of Lanczos, whose orthogonalisation grows with the
// square of rank: Spectra needed 220-255 s for rank 400 of a 69,000-node kNN graph, where
// this takes 11 s, and rank 1,000 44 to 48 s on 2 cores (docs/results.md).
#include <cstdint>
#include <functional>
#include <limits>

#include "framework/graph/solvers.h"

namespace hamster {

struct SubspaceOptions {
  int degree = 10;      // Chebyshev degree per pass
  float tol = 1e-4f;    // every kept pair: ||S u - l u|| <= tol for unit u (S's norm is ~1)
  int max_passes = 40;  // an error past this many
  int guard = 0;        // block vectors beyond rank; 0: max(300, rank / 4) (subspace.cpp)
  uint64_t seed = 0;    // of the random starting block
  // A lower bound of S's spectrum; NaN: Gershgorin's (loose, which slows the filter: for a
  // normalised affinity it is about -3 where -1 holds, D^-1/2 A D^-1/2 being similar to the
  // stochastic D^-1 A).
  double lower_bound = std::numeric_limits<double>::quiet_NaN();
  // Called after each pass (progress): its number, the largest residual of the pairs not
  // yet within tol (NaN: not checked this pass), and how many pairs are locked (within tol).
  std::function<void(int pass, float residual_max, int converged)> on_pass;
};

struct SubspaceReport {
  int passes = 0;
  int block = 0;              // b
  float residual_max = 0;     // of the kept pairs, checked on the returned vectors
  double megabytes_peak = 0;  // the n x b float blocks held at once
};

// The `rank` largest algebraic eigenpairs of symmetric s (values decreasing, unit vectors,
// each vector's largest entry positive). Deterministic for a seed on one machine. Throws
// Error when rank is not in [1, n), or when max_passes leave a residual above tol (naming
// it, rank and n). When rank + guard exceeds n / 3 (small graphs), a dense solve of all n
// pairs replaces the iteration (0 passes); above n = 20,000 that is an error.
Eigenpairs subspace_eigenpairs(const SparseMatrix& s, int rank, const SubspaceOptions& options = {},
                               SubspaceReport* report = nullptr);

}  // namespace hamster
