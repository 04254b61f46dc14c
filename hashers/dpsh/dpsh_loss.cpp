#include "hashers/dpsh/dpsh_loss.h"

namespace hamster {

torch::Tensor pairwise_likelihood_loss(const torch::Tensor& u, const torch::Tensor& v,
                                       const torch::Tensor& similarity) {
  torch::Tensor theta = 0.5 * u.matmul(v.t());
  // log(1 + e^theta) written out overflows past theta ~ 88 in floats. torch::softplus is
  // finite everywhere (theta itself above 20, log1p(e^theta) below) and, unlike
  // max(theta, 0) + log1p(e^-|theta|), has the exact gradient sigmoid(theta) at theta = 0.
  return (torch::softplus(theta) - similarity * theta).mean();
}

torch::Tensor quantization_loss(const torch::Tensor& u, const torch::Tensor& b) {
  return (b.detach() - u).pow(2).sum(1).mean();
}

torch::Tensor binary_sign(const torch::Tensor& x) {
  return torch::where(x > 0, torch::ones_like(x), -torch::ones_like(x));
}

}  // namespace hamster
