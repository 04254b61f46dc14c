#pragma once
// CSQ's pieces as free functions, so each can be checked on tiny tensors: the hash centres,
// the centre of a (multi-label) item, and the loss.
#include <torch/torch.h>

#include <cstdint>

namespace hamster {

// The Sylvester Hadamard matrix H_n (H_1 = [1], H_2n = [[H_n, H_n], [H_n, -H_n]]), n x n
// floats in {-1, +1}; n must be a power of two. Its rows are pairwise orthogonal, so any two
// of them differ in exactly n/2 places.
torch::Tensor sylvester_hadamard(int n);

// classes x bits hash centres in {-1, +1}. When bits is a power of two and 2 * bits >=
// classes, the first `classes` rows of [H_bits; -H_bits] (the paper's Hadamard centres: up
// to `bits` classes are all bits/2 apart; a row and its negation are bits apart). Otherwise
// every bit of every centre is a seeded fair coin (the paper's Bernoulli centres).
torch::Tensor csq_centres(int classes, int bits, uint64_t seed);

// The centre each item is pulled toward: the sign of the mean of its labels' centres; a bit
// where that mean is 0 (a tie between the labels, or an item with no label) takes tie_break's
// sign. labels: B x C multi-hot, centres: C x bits, tie_break: bits in {-1, +1}.
torch::Tensor csq_item_centres(const torch::Tensor& labels, const torch::Tensor& centres,
                               const torch::Tensor& tie_break);

// The CSQ objective on tanh outputs u (B x bits) and their centres (B x bits, +-1):
//   mean BCE((u + 1) / 2, (c + 1) / 2)  +  lambda * mean (|u| - 1)^2
// (the central similarity term, then the quantisation term), means over all B x bits entries.
torch::Tensor csq_loss(const torch::Tensor& u, const torch::Tensor& centres, double lambda);

}  // namespace hamster
