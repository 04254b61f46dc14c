#pragma once
// Training-time augmentation, shared by every deep hasher so that it belongs to the
// budget (the config's training: block), never to one method. With 5,000 training images
// the small CNN memorises them within a few epochs; the deep-hashing papers train with
// random crops and horizontal flips, and these are their small-image equivalents: a
// random shift of up to `shift` pixels (the uncovered border takes the background value
// -1) and a horizontal flip with probability 1/2, drawn per image from a seeded Rng.
// `erase` adds random erasing (Zhong et al., AAAI 2020, whose benchmarks include
// Fashion-MNIST): with probability 1/2 a rectangle of 2% to 40% of the image, aspect
// ratio 0.3 to 3.3, is filled with uniform noise in [-1, 1], so that no single region of
// an item can be memorised.
#include <torch/torch.h>

#include <string>

#include "framework/data/split.h"

namespace hamster {

struct Augmentation {
  bool flip = false;
  int shift = 0;
  bool erase = false;
  bool any() const { return flip || shift > 0 || erase; }
};

// "none", or one or more of "flip", "shift<N>" (N in 1..8) and "erase" joined by '+'
// (e.g. "flip+shift2+erase"); throws Error otherwise.
Augmentation parse_augmentation(const std::string& spec);

// A new N x C x H x W tensor: each image of `images` shifted, flipped and/or erased.
torch::Tensor augment_batch(const torch::Tensor& images, const Augmentation& a, Rng& rng);

}  // namespace hamster
