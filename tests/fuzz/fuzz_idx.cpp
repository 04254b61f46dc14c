// IDX reader (Fashion-MNIST's format, raw or gzip). The input holds both files: a 4-byte
// little-endian length n, then n bytes of the images file, then the labels file.
#include <algorithm>

#include "framework/data/loaders.h"
#include "tests/fuzz/fuzz_input.h"

using namespace hamster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t n = std::min<size_t>(
      size - 4, data[0] | (data[1] << 8) | (data[2] << 16) | (size_t{data[3]} << 24));
  const auto images = fuzz::write_input("images", data + 4, n);
  const auto labels = fuzz::write_input("labels", data + 4 + n, size - 4 - n);
  fuzz::read_or_refuse([&] { load_idx(images, labels, "fuzz"); });
  return 0;
}
