#pragma once
// Linear algebra the graph re-rankers need: conjugate gradient for (I - alpha S) f = y and
// the top eigenpairs of a symmetric sparse S (Spectra, Lanczos).
#include <Eigen/Core>

#include "framework/graph/affinity.h"

namespace hamster {

struct CgResult {
  int iterations = 0;
  float residual = 0;  // ||b - A x|| / ||b|| at exit
};

// Solves (I - alpha S) x = b by conjugate gradient from x's initial value (the caller sets
// it, e.g. to b or zero). Stops when the relative residual is <= tol or after max_iter
// iterations. S must be symmetric with spectral radius <= 1 and 0 <= alpha < 1, so the
// system is symmetric positive definite.
CgResult conjugate_gradient(const SparseMatrix& s, float alpha, const Eigen::VectorXf& b,
                            Eigen::VectorXf& x, float tol = 1e-6f, int max_iter = 20);

struct Eigenpairs {
  Eigen::VectorXf values;   // r largest algebraic eigenvalues, in decreasing order
  Eigen::MatrixXf vectors;  // n x r, unit-norm columns
  float residual_max = 0;   // the largest ||S u - l u|| the solver checked
  int passes = 0;           // subspace_eigenpairs: filter passes (0 for Lanczos)
};

// The `rank` largest algebraic eigenpairs of the symmetric matrix s. Deterministic (fixed
// starting vector). Throws Error if rank < 1 or rank >= n, or if Lanczos does not
// converge (naming rank and n).
Eigenpairs top_eigenpairs(const SparseMatrix& s, int rank);

}  // namespace hamster
