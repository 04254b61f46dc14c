// .npy reader and every typed loader on top of it (embeddings, packed codes, labels).
#include "framework/npy.h"
#include "tests/fuzz/fuzz_input.h"

using namespace hamster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = fuzz::write_input("a.npy", data, size);
  fuzz::read_or_refuse([&] { load_npy(file); });
  fuzz::read_or_refuse([&] { load_npy_header(file); });
  fuzz::read_or_refuse([&] { load_embedding(file); });
  fuzz::read_or_refuse([&] { load_labels(file); });
  for (int bits : {16, 64, 70}) fuzz::read_or_refuse([&] { load_packed_codes(file, bits); });
  return 0;
}
