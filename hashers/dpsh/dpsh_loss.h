#pragma once
// The losses of DPSH (Li, Wang, Kang, IJCAI 2016), also the network loss of DSDH (Li et al.,
// NIPS 2017), as free functions so they can be checked on tiny tensors.
#include <torch/torch.h>

namespace hamster {

// Negative log-likelihood of the pairwise similarities under p(s_ij = 1) = sigmoid(Theta_ij),
// Theta_ij = 1/2 u_i^T v_j:  mean over all A x B pairs of  log(1 + e^Theta) - s_ij Theta.
// u is A x bits, v is B x bits, similarity A x B in {0, 1}. The mean (not the paper's sum)
// keeps the weight of the quantization term independent of how many pairs a batch forms.
// Computed in a form that stays finite for any Theta (no e^Theta overflow).
torch::Tensor pairwise_likelihood_loss(const torch::Tensor& u, const torch::Tensor& v,
                                       const torch::Tensor& similarity);

// Quantization loss: mean over the rows of || b_i - u_i ||^2 (a sum over bits). b is held
// fixed (no gradient flows into it), so the gradient 2 (u_i - b_i) / rows pulls u toward b.
torch::Tensor quantization_loss(const torch::Tensor& u, const torch::Tensor& b);

// +1 where x > 0, else -1: the sign the codes take (BinaryCodes::from_signs sets a bit for
// x > 0), so that a 0 never appears in a binary code.
torch::Tensor binary_sign(const torch::Tensor& x);

}  // namespace hamster
