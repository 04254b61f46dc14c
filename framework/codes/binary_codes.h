#pragma once
// BinaryCodes: one packed row of uint64 words per item. Bit b of a code lives in word
// b / 64 at position b % 64; bits past `bits` in the last word are always zero, so a
// Hamming distance is a plain popcount over whole words.
#include <cstdint>
#include <vector>

namespace hamster {

class BinaryCodes {
 public:
  BinaryCodes() = default;
  BinaryCodes(int64_t n, int bits);  // all zero; throws Error if bits < 1

  // bit b of row i is (values[i * bits + b] > 0); values is row-major n x bits.
  static BinaryCodes from_signs(const float* values, int64_t n, int bits);

  int bits() const { return bits_; }
  int words() const { return words_; }
  int64_t size() const { return words_ ? static_cast<int64_t>(data_.size()) / words_ : 0; }
  const uint64_t* row(int64_t i) const { return data_.data() + i * words_; }
  uint64_t* row(int64_t i) { return data_.data() + i * words_; }
  const std::vector<uint64_t>& data() const { return data_; }
  std::vector<uint64_t>& data() { return data_; }

  bool bit(int64_t i, int b) const { return (row(i)[b >> 6] >> (b & 63)) & 1u; }
  void set_bit(int64_t i, int b, bool v);

  BinaryCodes subset(const std::vector<int64_t>& ids) const;
  // Number of distinct codes (used to detect collapsed hashers).
  int64_t distinct() const;

 private:
  int bits_ = 0;
  int words_ = 0;
  std::vector<uint64_t> data_;
};

inline int hamming(const uint64_t* a, const uint64_t* b, int words) {
  int d = 0;
  for (int w = 0; w < words; ++w) d += __builtin_popcountll(a[w] ^ b[w]);
  return d;
}

}  // namespace hamster
