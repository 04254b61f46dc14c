#include "framework/data/mosaic.h"

#include <algorithm>
#include <string>

#include "framework/data/split.h"
#include "framework/error.h"

namespace hamster {

std::vector<MosaicTiles> draw_mosaic_tiles(int64_t source_size, int64_t count, uint64_t seed) {
  if (count < 1) throw Error("mosaics: count must be >= 1, got " + std::to_string(count));
  if (source_size < 1) throw Error("mosaics: the source dataset is empty");
  Rng rng(seed);
  std::vector<MosaicTiles> tiles(static_cast<size_t>(count));
  for (MosaicTiles& t : tiles)
    for (int64_t& id : t) id = static_cast<int64_t>(rng.below(static_cast<uint64_t>(source_size)));
  return tiles;
}

Dataset make_mosaics(const Dataset& source, const std::vector<MosaicTiles>& tiles) {
  const int64_t h = source.height, w = source.width;
  Dataset d;
  d.name = source.name + "-mosaic";
  d.channels = source.channels, d.height = 2 * h, d.width = 2 * w;
  d.class_names = source.class_names;
  d.pixels.resize(tiles.size() * static_cast<size_t>(d.image_bytes()));
  d.labels.reserve(tiles.size());
  for (size_t m = 0; m < tiles.size(); ++m) {
    uint8_t* out = d.pixels.data() + m * d.image_bytes();
    LabelSet labels;
    for (int q = 0; q < 4; ++q) {
      const int64_t id = tiles[m][q];
      if (id < 0 || id >= source.size())
        throw Error("mosaic " + std::to_string(m) + ": tile " + std::to_string(id) +
                    " is outside the source's " + std::to_string(source.size()) + " items");
      labels |= source.labels[id];
      const int64_t top = (q / 2) * h, left = (q % 2) * w;
      const uint8_t* in = source.image(id);
      for (int64_t ch = 0; ch < source.channels; ++ch)
        for (int64_t y = 0; y < h; ++y) {
          const uint8_t* row = in + (ch * h + y) * w;
          std::copy(row, row + w, out + (ch * d.height + top + y) * d.width + left);
        }
    }
    d.labels.push_back(labels);
  }
  return d;
}

Dataset load_fmnist_mosaic(const std::filesystem::path& dir, int64_t count, uint64_t seed) {
  const Dataset source = load_fashion_mnist(dir);
  Dataset d = make_mosaics(source, draw_mosaic_tiles(source.size(), count, seed));
  d.name = "fmnist-mosaic";
  return d;
}

}  // namespace hamster
