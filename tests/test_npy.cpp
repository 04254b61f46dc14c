#include <doctest/doctest.h>

#include <fstream>

#include "framework/error.h"
#include "framework/npy.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

TEST_CASE("npy: embeddings and packed codes round-trip") {
  const fs::path dir = test::fresh_temp_dir("npy");
  Embedding m(2, 3);
  m << 1, 2, 3, 4, 5, -6.5f;
  save_embedding(dir / "m.npy", m);
  CHECK(load_embedding(dir / "m.npy") == m);
  BinaryCodes codes(3, 70);
  codes.set_bit(1, 69, true);
  save_packed_codes(dir / "c.npy", codes);
  CHECK(load_packed_codes(dir / "c.npy", 70).data() == codes.data());
  for (const auto& entry : fs::directory_iterator(dir))
    CHECK(entry.path().string().find(".tmp") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("npy: code bits as hamster export writes them round-trip - other arrays refused") {
  const fs::path dir = test::fresh_temp_dir("npy-bits");
  BinaryCodes codes(3, 70);
  codes.set_bit(0, 0, true);
  codes.set_bit(1, 69, true);
  codes.set_bit(2, 33, true);
  save_code_bits(dir / "c.npy", codes);
  const BinaryCodes back = load_code_bits(dir / "c.npy");
  CHECK(back.bits() == 70);
  CHECK(back.data() == codes.data());
  // A 2 in the matrix is not a bit; a float matrix is not codes.
  NpyArray two{"|u1", {1, 2}, {0, 2}};
  save_npy(dir / "two.npy", two);
  CHECK_THROWS_WITH_AS(load_code_bits(dir / "two.npy"),
                       doctest::Contains("two.npy: value 2 at row 0, bit 1 is not 0 or 1"), Error);
  Embedding m(2, 3);
  m.setZero();
  save_embedding(dir / "m.npy", m);
  CHECK_THROWS_WITH_AS(load_code_bits(dir / "m.npy"),
                       doctest::Contains("m.npy: expected an n x bits uint8 matrix"), Error);
  fs::remove_all(dir);
}

TEST_CASE("npy: corrupt files give an Error naming the file") {
  const fs::path dir = test::fresh_temp_dir("npy-bad");
  Embedding m(4, 4);
  m.setZero();
  save_embedding(dir / "m.npy", m);
  std::string bytes;
  {
    std::ifstream in(dir / "m.npy", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(dir / "short.npy", std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  CHECK_THROWS_WITH_AS(load_npy(dir / "short.npy"),
                       doctest::Contains("short.npy: truncated npy data"), Error);
  std::ofstream(dir / "magic.npy", std::ios::binary) << "NUMPY!" << bytes.substr(6);
  CHECK_THROWS_WITH_AS(load_npy(dir / "magic.npy"), doctest::Contains("magic.npy: not a .npy file"),
                       Error);
  std::string negative = bytes;
  negative.replace(negative.find("(4,"), 3, "(-4,");
  std::ofstream(dir / "negative.npy", std::ios::binary) << negative;
  CHECK_THROWS_WITH_AS(load_npy(dir / "negative.npy"), doctest::Contains("negative dimension"),
                       Error);
  // A shape whose product overflows 64 bits, and one merely far larger than the file.
  for (const std::string& shape :
       {std::string("(4294967296, 4294967296,"), std::string("(400000000,")}) {
    std::string lying = bytes;
    lying.replace(lying.find("(4,"), 3, shape);
    std::ofstream(dir / "lying.npy", std::ios::binary) << lying;
    CHECK_THROWS_WITH_AS(load_npy(dir / "lying.npy"), doctest::Contains("lying.npy: npy shape"),
                         Error);
  }
  CHECK_THROWS_WITH_AS(load_packed_codes(dir / "m.npy", 64),
                       doctest::Contains("expected packed 64-bit codes"), Error);
  fs::remove_all(dir);
}

TEST_CASE("npy: a directory given as the file is named as a directory") {
  const fs::path dir = test::fresh_temp_dir("npy-dir");
  fs::create_directories(dir / "m.npy");
  CHECK(test::error_message([&] { load_npy(dir / "m.npy"); }) ==
        (dir / "m.npy").string() + ": is a directory, expected a .npy file");
  fs::remove_all(dir);
}

TEST_CASE("npy: empty arrays load - a shape with a zero dimension cannot ask for huge others") {
  // Found by fuzz_npy: an empty array's data was copied from a null pointer (undefined
  // behaviour). Seen while fixing it: (10^12, 0) holds no data, yet its reader would
  // allocate 10^12 rows.
  const fs::path dir = test::fresh_temp_dir("npy-empty");
  save_npy(dir / "e.npy", NpyArray{"<f4", {0, 3}, {}});
  const Embedding e = load_embedding(dir / "e.npy");
  CHECK(e.rows() == 0);
  CHECK(e.cols() == 3);
  save_npy(dir / "c.npy", NpyArray{"<u8", {0, 1}, {}});
  CHECK(load_packed_codes(dir / "c.npy", 16).size() == 0);
  save_npy(dir / "wide.npy", NpyArray{"|u1", {1000000000000, 0}, {}});
  CHECK_THROWS_WITH_AS(load_labels(dir / "wide.npy"),
                       doctest::Contains("wide.npy: npy shape '1000000000000,0' has a dimension "
                                         "larger than the file's"),
                       Error);
  fs::remove_all(dir);
}
