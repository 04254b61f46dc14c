#pragma once
// Fixed binary class codes ("hash centres") for the methods that pull each class toward one
// (CSQ, OrthoHash): far apart in Hamming space, drawn before training.
#include <torch/torch.h>

#include <cstdint>

namespace hamster {

// The Sylvester Hadamard matrix H_n (H_1 = [1], H_2n = [[H_n, H_n], [H_n, -H_n]]), n x n
// floats in {-1, +1}; n must be a power of two. Its rows are pairwise orthogonal, so any two
// of them differ in exactly n/2 places.
torch::Tensor sylvester_hadamard(int n);

// classes x bits centres in {-1, +1}. When bits is a power of two and 2 * bits >= classes,
// the first `classes` rows of [H_bits; -H_bits] (CSQ's Hadamard centres: up to `bits` classes
// are pairwise orthogonal, bits/2 apart; a row and its negation are bits apart). Otherwise
// every bit of every centre is a seeded fair coin (CSQ's Bernoulli centres).
torch::Tensor hash_centres(int classes, int bits, uint64_t seed);

}  // namespace hamster
