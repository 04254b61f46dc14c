#include "hashers/dsdh/dsdh_steps.h"

namespace hamster {

torch::Tensor dsdh_w_step(const torch::Tensor& B, const torch::Tensor& Y, double nu_over_mu) {
  const int64_t bits = B.size(0);
  torch::Tensor gram = B.matmul(B.t()) + nu_over_mu * torch::eye(bits, B.options());
  // A solve, not the explicit inverse: same solution, better conditioned.
  return torch::linalg::solve(gram, B.matmul(Y.t()), /*left=*/true);
}

double dsdh_b_objective(const torch::Tensor& B, const torch::Tensor& W, const torch::Tensor& Y,
                        const torch::Tensor& U, double eta_over_mu) {
  return ((Y - W.t().matmul(B)).pow(2).sum() + eta_over_mu * (B - U).pow(2).sum()).item<double>();
}

torch::Tensor dsdh_b_sweep(const torch::Tensor& B, const torch::Tensor& W, const torch::Tensor& Y,
                           const torch::Tensor& U, double eta_over_mu) {
  torch::Tensor b = B.clone();
  const torch::Tensor p = W.matmul(Y) + eta_over_mu * U;  // bits x N
  // Row k of W W^T is W w_k; with its k-th entry zeroed it is W' w_k padded with a 0 at k,
  // so b^T times it is B'^T W' w_k without building B' and W'.
  const torch::Tensor gram = W.matmul(W.t());
  for (int64_t k = 0; k < b.size(0); ++k) {
    torch::Tensor others = gram[k].clone();
    others[k] = 0;
    torch::Tensor q = p[k] - b.t().matmul(others);
    torch::Tensor row = b[k];
    b[k] = torch::where(q > 0, torch::ones_like(row),
                        torch::where(q < 0, -torch::ones_like(row), row));
  }
  return b;
}

}  // namespace hamster
