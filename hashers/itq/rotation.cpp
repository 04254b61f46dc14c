#include "hashers/itq/rotation.h"

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <Eigen/SVD>
#include <string>

#include "framework/data/split.h"
#include "framework/error.h"

namespace hamster {

Eigen::MatrixXd top_principal_directions(const Eigen::MatrixXd& covariance, int count) {
  const auto d = covariance.rows();
  if (covariance.cols() != d)
    throw Error("PCA: the covariance is " + std::to_string(d) + "x" +
                std::to_string(covariance.cols()) + ", not square");
  if (count < 1 || count > d)
    throw Error("PCA: asked for " + std::to_string(count) + " directions of " + std::to_string(d) +
                "-dimensional data");
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(covariance);
  if (solver.info() != Eigen::Success) throw Error("PCA: the eigendecomposition did not converge");
  // Eigenvalues come in ascending order: the last `count` columns, reversed.
  return solver.eigenvectors().rightCols(count).rowwise().reverse();
}

Eigen::MatrixXd random_rotation(int c, uint64_t seed) {
  if (c < 1) throw Error("random_rotation: size must be >= 1, got " + std::to_string(c));
  Rng rng(seed);
  Eigen::MatrixXd gaussian(c, c);
  for (int j = 0; j < c; ++j)  // column by column, so the draw does not depend on storage
    for (int i = 0; i < c; ++i) gaussian(i, j) = rng.normal();
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussian);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(c, c);
  // Householder QR leaves the signs of R's diagonal arbitrary; fixing them positive makes
  // Q uniformly distributed over the orthogonal group instead of biased.
  const Eigen::MatrixXd r = qr.matrixQR().triangularView<Eigen::Upper>();
  for (int j = 0; j < c; ++j)
    if (r(j, j) < 0) q.col(j) *= -1;
  return q;
}

namespace {

Eigen::MatrixXd signs(const Eigen::MatrixXd& x) {
  return x.unaryExpr([](double v) { return v > 0 ? 1.0 : -1.0; });
}

}  // namespace

Eigen::MatrixXd itq_rotation(const Eigen::MatrixXd& V, int iterations, uint64_t seed,
                             std::vector<double>* losses) {
  if (iterations < 0)
    throw Error("itq: iterations must be >= 0, got " + std::to_string(iterations));
  if (V.rows() == 0) throw Error("itq: no data to rotate");
  Eigen::MatrixXd R = random_rotation(static_cast<int>(V.cols()), seed);
  if (losses) losses->clear();
  for (int t = 0;; ++t) {
    const Eigen::MatrixXd projected = V * R;
    const Eigen::MatrixXd B = signs(projected);
    if (losses) losses->push_back((B - projected).squaredNorm());
    if (t == iterations) break;
    // min over orthogonal R of ||B - V R||^2 = max tr(B^T V R): with B^T V = S Omega S'^T
    // the maximiser is R = S' S^T.
    const Eigen::BDCSVD<Eigen::MatrixXd> svd(B.transpose() * V,
                                             Eigen::ComputeFullU | Eigen::ComputeFullV);
    R = svd.matrixV() * svd.matrixU().transpose();
  }
  return R;
}

}  // namespace hamster
