#pragma once
// Dataset: images (N x C x H x W, uint8) with multi-hot labels. No torch types here.
#include <cstdint>
#include <string>
#include <vector>

namespace hamster {

// Labels are one 64-bit mask per item (bit c set = item has class c): relevance is
// then a single AND (PROTOCOL.md: "share at least one label"). 64 classes is enough
// for every protocol we support (NUS-WIDE uses 21).
using LabelMask = uint64_t;
constexpr int kMaxClasses = 64;

inline bool relevant(LabelMask a, LabelMask b) { return (a & b) != 0; }

struct Dataset {
  std::string name;
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;    // size() * image_bytes(), item-major, C then H then W
  std::vector<LabelMask> labels;  // one per item
  std::vector<std::string> class_names;
  // Items [0, official_train_size) come from the official training files, the rest
  // from the official test files (protocols fmnist-2 and cifar10-2 use this split).
  int64_t official_train_size = 0;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  // Whether item i carries class c: the one way hashers read labels (multi-hot matrices),
  // so the mask's representation can change without touching them.
  bool has_label(int64_t i, int c) const { return (labels[i] >> c) & 1u; }
  // The single class of item i; throws if the item is not single-label.
  int single_label(int64_t i) const;
};

// Appends b's items after a's (same image shape and classes required).
Dataset concatenate(Dataset a, const Dataset& b);

}  // namespace hamster
