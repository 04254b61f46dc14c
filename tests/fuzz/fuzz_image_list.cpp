// Image-list reader (NUS-WIDE). Inputs starting with 'L' are a list file over a folder of
// small valid images; any other input is itself an image, named by a fixed list line, so
// the decoder (stb_image) sees the bytes too.
#include "framework/data/image_list.h"
#include "tests/fuzz/fuzz_input.h"

using namespace hamster;

namespace {

// A 2x2 RGB PPM (binary), a format stb decodes: one small valid image for lists to name.
const std::string kPpm = std::string("P6\n2 2\n255\n") + std::string(12, '\x7f');

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ImageListOptions options;
  options.image_size = 4;
  std::filesystem::path list;
  if (size > 0 && data[0] == 'L') {
    fuzz::write_input("a.ppm", reinterpret_cast<const uint8_t*>(kPpm.data()), kPpm.size());
    std::filesystem::create_directories(fuzz::work_dir() / "sub");
    fuzz::write_input("sub/b.ppm", reinterpret_cast<const uint8_t*>(kPpm.data()), kPpm.size());
    list = fuzz::write_input("list.txt", data + 1, size - 1);
  } else {
    fuzz::write_input("image.bin", data, size);
    const std::string line = "image.bin 1 0\n";
    list = fuzz::write_input("one.txt", reinterpret_cast<const uint8_t*>(line.data()), line.size());
  }
  fuzz::read_or_refuse([&] { load_image_list(list, options, "fuzz"); });
  return 0;
}
