#include "hashers/augment.h"

#include "framework/error.h"

namespace hamster {

Augmentation parse_augmentation(const std::string& spec) {
  Augmentation a;
  if (spec == "none") return a;
  std::string rest = spec;
  if (rest.rfind("flip", 0) == 0) {
    a.flip = true;
    rest = rest.substr(4);
    if (rest.empty()) return a;
    if (rest[0] != '+') rest = "?";
    rest = rest.substr(1);
  }
  if (rest.rfind("shift", 0) == 0 && rest.size() == 6 && rest[5] >= '1' && rest[5] <= '8') {
    a.shift = rest[5] - '0';
    return a;
  }
  throw Error("augment: unknown value '" + spec +
              "' (known: none, flip, shiftN, flip+shiftN with N in 1..8)");
}

torch::Tensor augment_batch(const torch::Tensor& images, const Augmentation& a, Rng& rng) {
  if (!a.any()) return images;
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3), s = a.shift;
  const torch::Tensor padded = s > 0 ? torch::constant_pad_nd(images, {s, s, s, s}, -1.0) : images;
  std::vector<torch::Tensor> out;
  out.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t dy = s > 0 ? static_cast<int64_t>(rng.below(2 * s + 1)) : 0;
    const int64_t dx = s > 0 ? static_cast<int64_t>(rng.below(2 * s + 1)) : 0;
    torch::Tensor x = padded[i].narrow(1, dy, h).narrow(2, dx, w);
    if (a.flip && rng.below(2)) x = x.flip({2});
    out.push_back(x);
  }
  return torch::stack(out);
}

}  // namespace hamster
