#include "framework/data/perturb.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "framework/data/split.h"

namespace hamster {
namespace {

uint8_t clamp_pixel(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// One C x H x W image, in place.
void add_noise(uint8_t* img, int64_t n, double sigma, Rng& rng) {
  for (int64_t i = 0; i < n; ++i) img[i] = clamp_pixel(img[i] + sigma * 255.0 * rng.normal());
}

// Separable Gaussian, radius ceil(3 sigma), borders clamped to the edge pixel.
void blur(uint8_t* img, int64_t c, int64_t h, int64_t w, double sigma) {
  const int r = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> k(2 * r + 1);
  double sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[i + r] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (double& v : k) v /= sum;
  std::vector<double> plane(h * w), tmp(h * w);
  for (int64_t ch = 0; ch < c; ++ch) {
    uint8_t* p = img + ch * h * w;
    for (int64_t i = 0; i < h * w; ++i) plane[i] = p[i];
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        double v = 0;
        for (int i = -r; i <= r; ++i)
          v += k[i + r] * plane[y * w + std::clamp<int64_t>(x + i, 0, w - 1)];
        tmp[y * w + x] = v;
      }
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        double v = 0;
        for (int i = -r; i <= r; ++i)
          v += k[i + r] * tmp[std::clamp<int64_t>(y + i, 0, h - 1) * w + x];
        p[y * w + x] = clamp_pixel(v);
      }
  }
}

void occlude(uint8_t* img, int64_t c, int64_t h, int64_t w, double fraction, Rng& rng) {
  const int64_t side = std::clamp<int64_t>(
      std::lround(std::sqrt(fraction * static_cast<double>(h * w))), 1, std::min(h, w));
  const int64_t top = static_cast<int64_t>(rng.below(h - side + 1));
  const int64_t left = static_cast<int64_t>(rng.below(w - side + 1));
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = top; y < top + side; ++y)
      std::fill_n(img + (ch * h + y) * w + left, side, uint8_t{128});
}

void contrast(uint8_t* img, int64_t n, double s) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += img[i];
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) img[i] = clamp_pixel(mean + (1 - s) * (img[i] - mean));
}

}  // namespace

std::string Perturbation::label() const {
  return none() ? "none" : fmt::format("{}={:g}", kind, strength);
}

Perturbation parse_perturbation(const std::string& text, const std::string& where) {
  const std::string known = "(known: none, noise=S, blur=S, occlude=S, brightness=S, contrast=S)";
  if (text == "none") return {};
  const size_t eq = text.find('=');
  Perturbation p;
  p.kind = text.substr(0, eq);
  const bool kind_ok = p.kind == "noise" || p.kind == "blur" || p.kind == "occlude" ||
                       p.kind == "brightness" || p.kind == "contrast";
  if (eq == std::string::npos || !kind_ok)
    throw Error(where + ": unknown perturbation '" + text + "' " + known);
  const std::string value = text.substr(eq + 1);
  char* end = nullptr;
  p.strength = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(p.strength))
    throw Error(where + ": perturbation '" + text + "' needs a number after '='");
  const double s = p.strength;
  const bool ok = (p.kind == "noise" || p.kind == "blur") ? s > 0
                  : (p.kind == "brightness")              ? s >= -1 && s <= 1 && s != 0
                                                          : s > 0 && s <= 1;
  if (!ok)
    throw Error(where + ": perturbation '" + text +
                "' has a strength out of range (noise, blur > 0; occlude, contrast in (0, 1]; "
                "brightness in [-1, 1], not 0)");
  return p;
}

Dataset perturbed_subset(const Dataset& data, const std::vector<int64_t>& ids,
                         const Perturbation& p, uint64_t seed) {
  Dataset out;
  out.name = data.name + (p.none() ? "" : " [" + p.label() + "]");
  out.channels = data.channels, out.height = data.height, out.width = data.width;
  out.class_names = data.class_names;
  const int64_t bytes = data.image_bytes();
  out.pixels.resize(ids.size() * bytes);
  out.labels.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= data.size())
      throw Error(fmt::format("perturbed_subset: item {} outside {} (size {})", ids[i], data.name,
                              data.size()));
    uint8_t* img = out.pixels.data() + i * bytes;
    std::copy_n(data.image(ids[i]), bytes, img);
    out.labels.push_back(data.labels[ids[i]]);
    Rng rng(seed ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(ids[i] + 1)));
    if (p.kind == "noise") add_noise(img, bytes, p.strength, rng);
    if (p.kind == "blur") blur(img, data.channels, data.height, data.width, p.strength);
    if (p.kind == "occlude") occlude(img, data.channels, data.height, data.width, p.strength, rng);
    if (p.kind == "brightness")
      for (int64_t k = 0; k < bytes; ++k) img[k] = clamp_pixel(img[k] + p.strength * 255.0);
    if (p.kind == "contrast") contrast(img, bytes, p.strength);
  }
  return out;
}

}  // namespace hamster
