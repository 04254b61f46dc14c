#include "framework/graph/solvers.h"

#include <Spectra/MatOp/SparseSymMatProd.h>
#include <Spectra/SymEigsSolver.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/error.h"

namespace hamster {

CgResult conjugate_gradient(const SparseMatrix& s, float alpha, const Eigen::VectorXf& b,
                            Eigen::VectorXf& x, float tol, int max_iter) {
  const int64_t n = s.rows();
  if (s.cols() != n || b.size() != n || x.size() != n)
    throw Error(fmt::format("conjugate_gradient: S is {} x {}, b has {} rows, x has {}", n,
                            s.cols(), b.size(), x.size()));
  if (!(alpha >= 0 && alpha < 1))
    throw Error(fmt::format("conjugate_gradient: alpha = {} must be in [0, 1)", alpha));
  // out = (I - alpha S) v, into a buffer kept across iterations (no allocation per step).
  const auto apply = [&](const Eigen::VectorXf& v, Eigen::VectorXf& out) {
    out.noalias() = s * v;
    out = v - alpha * out;
  };
  const float b_norm = b.norm();
  if (b_norm == 0) {  // the solution is exactly zero
    x.setZero();
    return {};
  }
  Eigen::VectorXf ap(n);
  apply(x, ap);
  Eigen::VectorXf r = b - ap;
  Eigen::VectorXf p = r;
  float rr = r.squaredNorm();
  CgResult result;
  while (result.iterations < max_iter && std::sqrt(rr) > tol * b_norm) {
    apply(p, ap);
    const float step = rr / p.dot(ap);
    x += step * p;
    r -= step * ap;
    const float rr_next = r.squaredNorm();
    p = r + (rr_next / rr) * p;
    rr = rr_next;
    ++result.iterations;
  }
  // The recurrence drifts from the true residual in float: report the true one.
  apply(x, ap);
  result.residual = (b - ap).norm() / b_norm;
  return result;
}

namespace {

using SparseMatrixD = Eigen::SparseMatrix<double, Eigen::RowMajor, int64_t>;

// Spectra's eigenvectors have an arbitrary sign; fixing it (largest entry positive) makes
// the output comparable across runs and libraries.
void fix_signs(Eigen::MatrixXd& vectors) {
  for (int64_t c = 0; c < vectors.cols(); ++c) {
    Eigen::Index largest = 0;
    vectors.col(c).cwiseAbs().maxCoeff(&largest);
    if (vectors(largest, c) < 0) vectors.col(c) *= -1;
  }
}

}  // namespace

Eigenpairs top_eigenpairs(const SparseMatrix& s, int rank) {
  const int64_t n = s.rows();
  if (s.cols() != n) throw Error(fmt::format("top_eigenpairs: S is {} x {}", n, s.cols()));
  if (rank < 1 || rank >= n)
    throw Error(fmt::format("top_eigenpairs: rank = {} must be in [1, n) with n = {}", rank, n));
  // Lanczos in double: float cannot bring the residual to the 1e-6 checked below.
  const SparseMatrixD sd = s.cast<double>();
  using Op = Spectra::SparseSymMatProd<double, Eigen::Lower, Eigen::RowMajor, int64_t>;
  Op op(sd);
  const int64_t ncv = std::min<int64_t>(n, std::max(2 * rank + 1, rank + 20));
  Spectra::SymEigsSolver<Op> solver(op, rank, ncv);
  solver.init();  // Spectra's fixed-seed starting vector: the same result on every run
  solver.compute(Spectra::SortRule::LargestAlge, 1000, 1e-10, Spectra::SortRule::LargestAlge);
  if (solver.info() != Spectra::CompInfo::Successful)
    throw Error(
        fmt::format("top_eigenpairs: Lanczos did not converge (rank = {}, n = {})", rank, n));
  const Eigen::VectorXd values = solver.eigenvalues();
  Eigen::MatrixXd vectors = solver.eigenvectors();
  fix_signs(vectors);
  const Eigen::MatrixXd residual = sd * vectors - vectors * values.asDiagonal();
  double residual_max = 0;
  for (int c = 0; c < rank; ++c) {
    residual_max = std::max(residual_max, residual.col(c).norm());
    if (residual.col(c).norm() > 1e-6 * vectors.col(c).norm())
      throw Error(fmt::format("top_eigenpairs: eigenpair {} has residual {:g} (rank = {}, n = {})",
                              c, residual.col(c).norm(), rank, n));
  }
  return {values.cast<float>(), vectors.cast<float>(), static_cast<float>(residual_max), 0};
}

}  // namespace hamster
