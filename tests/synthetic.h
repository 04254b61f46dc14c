#pragma once
// Small generated data for tests: images whose class is learnable (each class brightens
// its own horizontal band, plus noise), and writers for the real on-disk formats.
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/data/split.h"
#include "tests/dirs_removed_at_exit.h"

namespace hamster::test {

inline Dataset synthetic_images(int per_class, int classes, uint64_t seed, int side = 28,
                                int channels = 1) {
  Dataset d;
  d.name = "synthetic";
  d.channels = channels, d.height = side, d.width = side;
  Rng rng(seed);
  for (int i = 0; i < per_class * classes; ++i) {
    const int c = i % classes;
    for (int ch = 0; ch < channels; ++ch)
      for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) {
          const bool band = (y * classes / side) == c;
          const double v = (band ? 170 : 40) + 60 * rng.uniform();
          d.pixels.push_back(static_cast<uint8_t>(v));
        }
    d.labels.push_back(LabelSet::of(c));
  }
  for (int c = 0; c < classes; ++c) d.class_names.push_back("class" + std::to_string(c));
  d.official_train_size = d.size();
  return d;
}

inline void put_u32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void write_gz(const std::filesystem::path& file, const std::string& bytes) {
  gzFile f = gzopen(file.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// Writes items [begin, end) of d as an IDX image file and an IDX label file (gzip).
inline void write_idx_pair(const Dataset& d, int64_t begin, int64_t end,
                           const std::filesystem::path& images,
                           const std::filesystem::path& labels) {
  std::string img, lab;
  put_u32(img, 0x803), put_u32(img, end - begin), put_u32(img, d.height), put_u32(img, d.width);
  put_u32(lab, 0x801), put_u32(lab, end - begin);
  for (int64_t i = begin; i < end; ++i) {
    img.append(reinterpret_cast<const char*>(d.image(i)), d.image_bytes());
    lab.push_back(static_cast<char>(d.single_label(i)));
  }
  write_gz(images, img);
  write_gz(labels, lab);
}

// A folder laid out like /usr/share/datasets/fashion-mnist, holding `d` (the first
// train_items as the training files, the rest as the test files).
inline void write_fashion_mnist_dir(const Dataset& d, int64_t train_items,
                                    const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  write_idx_pair(d, 0, train_items, dir / "train-images-idx3-ubyte.gz",
                 dir / "train-labels-idx1-ubyte.gz");
  write_idx_pair(d, train_items, d.size(), dir / "t10k-images-idx3-ubyte.gz",
                 dir / "t10k-labels-idx1-ubyte.gz");
}

// An empty folder /tmp/hamster-test-NAME-PID, removed when the test process exits.
inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  static DirsRemovedAtExit made;
  auto dir = std::filesystem::temp_directory_path() /
             ("hamster-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  made.add(dir);
  return dir;
}

inline std::vector<int64_t> iota_ids(int64_t n) {
  std::vector<int64_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = i;
  return ids;
}

}  // namespace hamster::test
