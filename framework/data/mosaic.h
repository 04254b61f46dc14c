#pragma once
// fmnist-mosaic: a multi-label benchmark built on every machine from Fashion-MNIST. Each
// item is a 2x2 mosaic of four 28x28 images (56x56, one channel); its label set is the
// union of the four classes.
#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/data/loaders.h"

namespace hamster {

// The source items of each mosaic, in quadrant order: top-left, top-right, bottom-left,
// bottom-right.
using MosaicTiles = std::array<int64_t, 4>;

// `count` mosaics of source items drawn uniformly and independently (with replacement)
// from [0, source_size) with a generator seeded by `seed`. Throws Error if count < 1 or
// source_size < 1.
std::vector<MosaicTiles> draw_mosaic_tiles(int64_t source_size, int64_t count, uint64_t seed);

// The mosaics themselves: images twice the source's height and width, same channels and
// classes. Throws Error if a tile index is outside the source.
Dataset make_mosaics(const Dataset& source, const std::vector<MosaicTiles>& tiles);

constexpr int64_t kDefaultMosaics = 20000;

// `count` mosaics drawn from the 70,000 pooled Fashion-MNIST images in `dir`; name
// "fmnist-mosaic", no official train/test division.
Dataset load_fmnist_mosaic(const std::filesystem::path& dir = kFashionMnistDir,
                           int64_t count = kDefaultMosaics, uint64_t seed = 0);

}  // namespace hamster
