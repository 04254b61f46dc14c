#pragma once
// The discrete steps of DSDH (Li, Sun, He, Tan, NIPS 2017), as free functions so they can be
// checked on small matrices. The paper's layout throughout: B is bits x N (codes in
// {-1, +1}), U is bits x N (the network's real outputs), Y is C x N (multi-hot labels), W is
// bits x C (a linear classifier on the codes, y_i ~ W^T b_i). With the network fixed, DSDH
// minimises over W and B
//   mu ||Y - W^T B||^2 + nu ||W||^2 + eta ||B - U||^2.
#include <torch/torch.h>

namespace hamster {

// W-step: the ridge solution W = (B B^T + (nu/mu) I)^-1 B Y^T (bits x C).
torch::Tensor dsdh_w_step(const torch::Tensor& B, const torch::Tensor& Y, double nu_over_mu);

// What the B-step minimises over B (W fixed), divided by mu:
//   ||Y - W^T B||^2 + (eta/mu) ||B - U||^2.
double dsdh_b_objective(const torch::Tensor& B, const torch::Tensor& W, const torch::Tensor& Y,
                        const torch::Tensor& U, double eta_over_mu);

// One sweep of discrete cyclic coordinate descent over the bit rows of B, in order: with
// P = W Y + (eta/mu) U, row k becomes b_k = sign(p_k - B'^T W' w_k), where B' and W' are B
// and W without row k and w_k is row k of W. Each row is the exact minimiser of the B-step
// objective given the other rows (because ||b_k||^2 = N for any b_k in {-1, +1}^N), so a
// sweep never increases it. Where p_k - B'^T W' w_k is exactly 0 both signs are optimal and
// the bit keeps its value, so B stays in {-1, +1}. B must hold only -1 and +1.
torch::Tensor dsdh_b_sweep(const torch::Tensor& B, const torch::Tensor& W, const torch::Tensor& Y,
                           const torch::Tensor& U, double eta_over_mu);

}  // namespace hamster
