#include "hashers/augment.h"

#include <cmath>

#include "framework/error.h"

namespace hamster {

Augmentation parse_augmentation(const std::string& spec) {
  Augmentation a;
  if (spec == "none") return a;
  const auto refuse = [&] {
    return Error("augment: unknown value '" + spec +
                 "' (known: none, or flip, shiftN with N in 1..8 and erase joined by '+', "
                 "e.g. flip+shift2+erase)");
  };
  size_t start = 0;
  while (true) {
    const size_t plus = spec.find('+', start);
    const std::string part = spec.substr(start, plus == std::string::npos ? plus : plus - start);
    if (part == "flip" && !a.flip) {
      a.flip = true;
    } else if (part == "erase" && !a.erase) {
      a.erase = true;
    } else if (part.size() == 6 && part.rfind("shift", 0) == 0 && part[5] >= '1' &&
               part[5] <= '8' && a.shift == 0) {
      a.shift = part[5] - '0';
    } else {
      throw refuse();  // empty, unknown or repeated
    }
    if (plus == std::string::npos) return a;
    start = plus + 1;
  }
}

namespace {

// Random erasing's defaults (Zhong et al.): probability 1/2, area 2% to 40% of the
// image, aspect ratio 0.3 to 1/0.3 drawn log-uniformly, noise fill; a rectangle that does
// not fit is drawn again (up to 10 times, then the image is left whole).
void erase_rectangle(const torch::Tensor& image, Rng& rng) {
  if (rng.below(2)) return;
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area = (0.02 + 0.38 * rng.uniform()) * static_cast<double>(h * w);
    const double aspect = std::exp(std::log(0.3) + 2.0 * std::log(1 / 0.3) * rng.uniform());
    const auto eh = static_cast<int64_t>(std::lround(std::sqrt(area * aspect)));
    const auto ew = static_cast<int64_t>(std::lround(std::sqrt(area / aspect)));
    if (eh < 1 || ew < 1 || eh > h || ew > w) continue;
    const auto y0 = static_cast<int64_t>(rng.below(h - eh + 1));
    const auto x0 = static_cast<int64_t>(rng.below(w - ew + 1));
    // The noise is drawn on the CPU from the seeded Rng, then written where the image
    // lives (the training device).
    torch::Tensor noise = torch::empty({c, eh, ew}, torch::kFloat32);
    float* value = noise.data_ptr<float>();
    for (int64_t k = 0; k < c * eh * ew; ++k) value[k] = static_cast<float>(2 * rng.uniform() - 1);
    image.narrow(1, y0, eh).narrow(2, x0, ew).copy_(noise.to(image.options()));
    return;
  }
}

}  // namespace

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
    if (a.erase) {
      x = x.clone();  // its own storage: erasing writes into it
      erase_rectangle(x, rng);
    }
    out.push_back(x);
  }
  return torch::stack(out);
}

}  // namespace hamster
