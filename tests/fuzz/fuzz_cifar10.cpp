// CIFAR-10 binary reader: the input is every batch file of the folder (data_batch_1..5,
// test_batch), and its first line, with blank lines, also batches.meta.txt when the first
// byte is odd.
#include "framework/data/loaders.h"
#include "tests/fuzz/fuzz_input.h"

using namespace hamster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int b = 1; b <= 5; ++b)
    fuzz::write_input("data_batch_" + std::to_string(b) + ".bin", data, size);
  fuzz::write_input("test_batch.bin", data, size);
  const auto meta = fuzz::work_dir() / "batches.meta.txt";
  if (size > 0 && (data[0] & 1))
    fuzz::write_input("batches.meta.txt", data, size);
  else
    std::filesystem::remove(meta);
  fuzz::read_or_refuse([&] { load_cifar10(fuzz::work_dir()); });
  return 0;
}
