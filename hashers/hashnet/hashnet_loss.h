#pragma once
// HashNet's pieces as free functions, checked on tiny tensors in test_hashnet.cpp.
#include <torch/torch.h>

#include <cstdint>

namespace hamster {

// The continuation scale of the tanh(beta * h) output after `iterations` training steps:
// beta = (1 + gamma * iterations)^power (the authors' code: gamma 0.005, power 0.5).
double hashnet_beta(int64_t iterations, double gamma, double power);

// The paper's weights that balance similar against dissimilar pairs: over the pairs where
// `valid` is 1, w = |S| / |S1| for a similar pair and |S| / |S0| for a dissimilar one
// (S1, S0: the similar and dissimilar pairs, S = S1 + S0); 0 where `valid` is 0, and 0 for
// a kind of pair that does not occur.
torch::Tensor hashnet_pair_weights(const torch::Tensor& similar, const torch::Tensor& valid);

// Weighted pairwise cross-entropy of z (B x bits) against others (M x bits):
//   Theta_ij = alpha <z_i, o_j>,   L = sum_ij w_ij (log(1 + exp(Theta_ij)) - s_ij Theta_ij) / |S|
// with w from hashnet_pair_weights(similar, valid) and |S| the number of valid pairs.
torch::Tensor hashnet_loss(const torch::Tensor& z, const torch::Tensor& others,
                           const torch::Tensor& similar, const torch::Tensor& valid, double alpha);

}  // namespace hamster
