#include "framework/codes/binary_codes.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "framework/error.h"

namespace hamster {

BinaryCodes::BinaryCodes(int64_t n, int bits) : bits_(bits), words_((bits + 63) / 64) {
  if (bits < 1) throw Error("BinaryCodes: bits = " + std::to_string(bits) + " must be at least 1");
  if (n < 0) throw Error("BinaryCodes: n = " + std::to_string(n) + " must not be negative");
  data_.assign(static_cast<size_t>(n) * words_, 0);
}

BinaryCodes BinaryCodes::from_signs(const float* values, int64_t n, int bits) {
  BinaryCodes codes(n, bits);
  for (int64_t i = 0; i < n; ++i) {
    const float* v = values + i * bits;
    uint64_t* out = codes.row(i);
    for (int b = 0; b < bits; ++b) {
      // A NaN would silently become a 0 bit; a hasher producing NaN is broken, so say so.
      if (std::isnan(v[b]))
        throw Error("BinaryCodes::from_signs: value at row " + std::to_string(i) + ", bit " +
                    std::to_string(b) + " is NaN");
      out[b >> 6] |= static_cast<uint64_t>(v[b] > 0) << (b & 63);
    }
  }
  return codes;
}

void BinaryCodes::set_bit(int64_t i, int b, bool v) {
  // Writing out of range would corrupt a neighbouring code (or the padding that Hamming
  // distances rely on being zero), so this check is worth its compare.
  if (i < 0 || i >= size() || b < 0 || b >= bits_)
    throw Error("BinaryCodes::set_bit: (" + std::to_string(i) + ", " + std::to_string(b) +
                ") is outside " + std::to_string(size()) + " codes of " + std::to_string(bits_) +
                " bits");
  const uint64_t mask = uint64_t{1} << (b & 63);
  uint64_t& word = row(i)[b >> 6];
  word = v ? (word | mask) : (word & ~mask);
}

BinaryCodes BinaryCodes::subset(const std::vector<int64_t>& ids) const {
  BinaryCodes out;
  out.bits_ = bits_;
  out.words_ = words_;
  out.data_.resize(ids.size() * words_);
  for (size_t r = 0; r < ids.size(); ++r) {
    const int64_t id = ids[r];
    if (id < 0 || id >= size())
      throw Error("BinaryCodes::subset: id " + std::to_string(id) + " (position " +
                  std::to_string(r) + ") is outside 0.." + std::to_string(size() - 1));
    std::copy_n(row(id), words_, out.data_.begin() + r * words_);
  }
  return out;
}

int64_t BinaryCodes::distinct() const {
  const int64_t n = size();
  if (n == 0) return 0;
  // Sort row indices by code (lexicographic over the words), then count the runs.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  const int w = words_;
  auto less = [&](int64_t a, int64_t b) {
    return std::lexicographical_compare(row(a), row(a) + w, row(b), row(b) + w);
  };
  std::sort(order.begin(), order.end(), less);
  int64_t runs = 1;
  for (int64_t r = 1; r < n; ++r)
    if (!std::equal(row(order[r - 1]), row(order[r - 1]) + w, row(order[r]))) ++runs;
  return runs;
}

}  // namespace hamster
