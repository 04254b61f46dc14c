#pragma once
// GreedyHash's pieces as free functions, checked on tiny tensors in test_greedyhash.cpp.
#include <torch/torch.h>

namespace hamster {

// sign(h) in the forward pass; in the backward pass the gradient reaching the codes is handed
// to h unchanged (the paper's greedy step: dL/dh := dL/db).
torch::Tensor sign_straight_through(const torch::Tensor& h);

// The penalty that keeps h near the codes it is rounded to: mean over all entries of
// | |h| - 1 |^3 (the authors' code; the paper writes || h - sgn(h) ||_3^3, the same value).
torch::Tensor greedyhash_penalty(const torch::Tensor& h);

// The classifier's loss on logits (B x C) against multi-hot labels (B x C): softmax
// cross-entropy toward the one class when every item has exactly one label (the paper's
// setting), otherwise the mean binary cross-entropy with logits over all B x C entries.
torch::Tensor greedyhash_classification_loss(const torch::Tensor& logits,
                                             const torch::Tensor& labels, bool single_label);

}  // namespace hamster
