#pragma once
// OrthoHash's loss as a free function, checked on tiny tensors in test_orthohash.cpp.
#include <torch/torch.h>

namespace hamster {

// Cosine-similarity cross-entropy with an additive margin toward fixed class codes:
//   logit_ik = s (cos(u_i, c_k) - m y_ik)
//   loss     = mean_i  - sum_k (y_ik / sum_k y_ik) log softmax_k(logit_i)
// u: B x bits continuous codes, codebook: C x bits (+-1), labels: B x C multi-hot. With one
// label per item this is the softmax cross-entropy toward that class; with several, the
// target spreads evenly over them (the authors' default for multi-label data). An item with
// no label contributes 0.
torch::Tensor orthohash_loss(const torch::Tensor& u, const torch::Tensor& codebook,
                             const torch::Tensor& labels, double scale, double margin);

}  // namespace hamster
