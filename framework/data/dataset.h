#pragma once
// Dataset: images (N x C x H x W, uint8) with multi-hot labels. No torch types here.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/error.h"

namespace hamster {

// An item's classes as a fixed-width bit set (bit c set = the item has class c). Two
// 64-bit words hold 128 classes, enough for MS-COCO (80) and NUS-WIDE (81 concepts);
// relevance (docs/protocol.md: "share at least one label") stays two ANDs and an OR, with no
// branch and no allocation, because it sits in the metrics' innermost loop. Widen kWords
// if a dataset ever needs more; loaders refuse more than kMaxClasses.
class LabelSet {
 public:
  static constexpr int kWords = 2;
  static constexpr int kCapacity = 64 * kWords;

  constexpr LabelSet() = default;
  // The set holding class c alone.
  static LabelSet of(int c) {
    LabelSet s;
    s.set(c);
    return s;
  }

  // Throws Error for a class outside 0..kCapacity-1 (a loader bug, not a hot path).
  void set(int c) {
    if (c < 0 || c >= kCapacity)
      throw Error("label class " + std::to_string(c) + " is outside 0.." +
                  std::to_string(kCapacity - 1));
    words_[c >> 6] |= uint64_t{1} << (c & 63);
  }
  bool test(int c) const { return c >= 0 && c < kCapacity && ((words_[c >> 6] >> (c & 63)) & 1u); }
  int count() const {
    int n = 0;
    for (uint64_t w : words_) n += __builtin_popcountll(w);
    return n;
  }
  bool empty() const { return count() == 0; }
  // The smallest class in the set, or -1 when it is empty.
  int lowest() const {
    for (int w = 0; w < kWords; ++w)
      if (words_[w]) return 64 * w + __builtin_ctzll(words_[w]);
    return -1;
  }
  bool intersects(const LabelSet& o) const {
    uint64_t any = 0;
    for (int w = 0; w < kWords; ++w) any |= words_[w] & o.words_[w];
    return any != 0;
  }
  LabelSet& operator|=(const LabelSet& o) {
    for (int w = 0; w < kWords; ++w) words_[w] |= o.words_[w];
    return *this;
  }
  friend bool operator==(const LabelSet& a, const LabelSet& b) { return a.words_ == b.words_; }
  friend bool operator!=(const LabelSet& a, const LabelSet& b) { return !(a == b); }

 private:
  std::array<uint64_t, kWords> words_{};
};

constexpr int kMaxClasses = LabelSet::kCapacity;

inline bool relevant(const LabelSet& a, const LabelSet& b) { return a.intersects(b); }

struct Dataset {
  std::string name;
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;   // size() * image_bytes(), item-major, C then H then W
  std::vector<LabelSet> labels;  // one per item
  std::vector<std::string> class_names;
  // Items [0, official_train_size) come from the official training files, the rest
  // from the official test files (protocols fmnist-2 and cifar10-2 use this split).
  int64_t official_train_size = 0;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  // Whether item i carries class c: the one way hashers read labels (multi-hot matrices),
  // so the set's representation can change without touching them.
  bool has_label(int64_t i, int c) const { return labels[i].test(c); }
  // The single class of item i; throws if the item is not single-label.
  int single_label(int64_t i) const;
};

// Appends b's items after a's (same image shape and classes required).
Dataset concatenate(Dataset a, const Dataset& b);

}  // namespace hamster
