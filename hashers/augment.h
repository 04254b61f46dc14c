#pragma once
// Training-time augmentation, shared by every deep hasher so that it belongs to the
// budget (the config's training: block), never to one method. With 5,000 training images
// the small CNN memorises them within a few epochs; the deep-hashing papers train with
// random crops and horizontal flips, and these are their small-image equivalents: a
// random shift of up to `shift` pixels (the uncovered border takes the background value
// -1) and a horizontal flip with probability 1/2, drawn per image from a seeded Rng.
#include <torch/torch.h>

#include <string>

#include "framework/data/split.h"

namespace hamster {

struct Augmentation {
  bool flip = false;
  int shift = 0;
  bool any() const { return flip || shift > 0; }
};

// "none", "flip", "shift<N>" or "flip+shift<N>" (N in 1..8); throws Error otherwise.
Augmentation parse_augmentation(const std::string& spec);

// A new N x C x H x W tensor: each image of `images` shifted and/or flipped.
torch::Tensor augment_batch(const torch::Tensor& images, const Augmentation& a, Rng& rng);

}  // namespace hamster
