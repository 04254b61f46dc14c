// Loaders on small files written in exactly the on-disk formats, and the Dataset helpers.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/data/loaders.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

// A fresh directory removed again when the test ends.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(test::fresh_temp_dir(name)) {}
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_raw(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_file(const fs::path& file, const std::string& bytes, bool gz) {
  if (gz)
    test::write_gz(file, bytes);
  else
    write_raw(file, bytes);
}

// A recognisable pixel value for every (item, position).
uint8_t pixel_value(int64_t item, int64_t pos) {
  return static_cast<uint8_t>((item * 31 + pos * 7) % 256);
}

std::string idx_images(int64_t count, int64_t height, int64_t width, uint32_t magic = 0x803) {
  std::string s;
  test::put_u32(s, magic), test::put_u32(s, count), test::put_u32(s, height),
      test::put_u32(s, width);
  for (int64_t i = 0; i < count; ++i)
    for (int64_t p = 0; p < height * width; ++p) s.push_back(static_cast<char>(pixel_value(i, p)));
  return s;
}

std::string idx_labels(const std::vector<int>& labels, uint32_t magic = 0x801) {
  std::string s;
  test::put_u32(s, magic), test::put_u32(s, labels.size());
  for (int l : labels) s.push_back(static_cast<char>(l));
  return s;
}

// The message of the hamster::Error that f throws ("" if it throws none).
std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::vector<int> kLabels = {3, 0, 9, 1, 1, 7, 2};

void check_idx_round_trip(const Dataset& d) {
  REQUIRE(d.size() == 7);
  CHECK(test::shape_of(d) == "tiny: 7 items (7 official training), 1x3x4");
  CHECK(d.pixels.size() == 7 * 12);
  CHECK(d.class_names.size() == 10);
  for (int64_t i = 0; i < d.size(); ++i) {
    CHECK(d.labels[i] == LabelSet::of(kLabels[i]));
    CHECK(d.single_label(i) == kLabels[i]);
    for (int64_t p = 0; p < 12; ++p) CHECK(d.image(i)[p] == pixel_value(i, p));
  }
}

}  // namespace

TEST_CASE("idx: gzip and raw files round-trip pixels and labels") {
  TempDir dir("idx-round-trip");
  for (bool gz : {true, false}) {
    CAPTURE(gz);
    const fs::path images = dir.path / (gz ? "img.gz" : "img"),
                   labels = dir.path / (gz ? "lab.gz" : "lab");
    write_file(images, idx_images(7, 3, 4), gz);
    write_file(labels, idx_labels(kLabels), gz);
    check_idx_round_trip(load_idx(images, labels, "tiny"));
  }
  // Compression is detected per file, not from the name.
  write_file(dir.path / "mixed-img", idx_images(7, 3, 4), true);
  write_file(dir.path / "mixed-lab.gz", idx_labels(kLabels), false);
  check_idx_round_trip(load_idx(dir.path / "mixed-img", dir.path / "mixed-lab.gz", "tiny"));
}

TEST_CASE("idx: every bad file gives an Error naming the file and the problem") {
  TempDir dir("idx-errors");
  const fs::path good_images = dir.path / "good-images.gz",
                 good_labels = dir.path / "good-labels.gz";
  write_file(good_images, idx_images(7, 3, 4), true);
  write_file(good_labels, idx_labels(kLabels), true);
  const auto load = [&](const fs::path& images, const fs::path& labels, int classes = 10) {
    return error_message([&] { load_idx(images, labels, "tiny", classes); });
  };

  SUBCASE("missing file") {
    const std::string msg = load(dir.path / "absent-images.gz", good_labels);
    INFO(msg);
    CHECK(has(msg, "absent-images.gz"));
    CHECK(has(msg, "not found"));
  }
  SUBCASE("wrong magic in the image file") {
    write_file(dir.path / "swapped-images.gz", idx_labels(kLabels), true);
    const std::string msg = load(dir.path / "swapped-images.gz", good_labels);
    INFO(msg);
    CHECK(has(msg, "swapped-images.gz"));
    CHECK(has(msg, "wrong magic number: expected 0x00000803"));
    CHECK(has(msg, "found 0x00000801"));
  }
  SUBCASE("wrong magic in the label file") {
    write_file(dir.path / "bad-labels", idx_labels(kLabels, 0x12345678), false);
    const std::string msg = load(good_images, dir.path / "bad-labels");
    INFO(msg);
    CHECK(has(msg, "bad-labels"));
    CHECK(has(msg, "wrong magic number: expected 0x00000801"));
    CHECK(has(msg, "found 0x12345678"));
  }
  SUBCASE("truncated image data") {
    std::string bytes = idx_images(7, 3, 4);
    bytes.resize(bytes.size() - 5);
    write_file(dir.path / "short-images.gz", bytes, true);
    const std::string msg = load(dir.path / "short-images.gz", good_labels);
    INFO(msg);
    CHECK(has(msg, "short-images.gz"));
    CHECK(has(msg, "truncated image data: expected 84 bytes, got 79"));
  }
  SUBCASE("truncated header") {
    write_file(dir.path / "short-header-images", idx_images(7, 3, 4).substr(0, 10), false);
    const std::string msg = load(dir.path / "short-header-images", good_labels);
    INFO(msg);
    CHECK(has(msg, "short-header-images"));
    CHECK(has(msg, "truncated header: expected 16 bytes, got 10"));
  }
  SUBCASE("truncated label data") {
    std::string bytes = idx_labels(kLabels);
    bytes.pop_back();
    write_file(dir.path / "short-labels", bytes, false);
    const std::string msg = load(good_images, dir.path / "short-labels");
    INFO(msg);
    CHECK(has(msg, "short-labels"));
    CHECK(has(msg, "truncated label data: expected 7 bytes, got 6"));
  }
  SUBCASE("a gzip stream cut short") {
    write_file(dir.path / "cut-images.gz", idx_images(7, 3, 4), true);
    const auto size = fs::file_size(dir.path / "cut-images.gz");
    fs::resize_file(dir.path / "cut-images.gz", size - 12);  // drops the gzip trailer and more
    const std::string msg = load(dir.path / "cut-images.gz", good_labels);
    INFO(msg);
    CHECK(has(msg, "cut-images.gz"));
  }
  SUBCASE("bytes after the end of the data") {
    write_file(dir.path / "long-images.gz", idx_images(7, 3, 4) + "extra", true);
    std::string msg = load(dir.path / "long-images.gz", good_labels);
    INFO(msg);
    CHECK(has(msg, "'" + (dir.path / "long-images.gz").string() + "': 5 bytes after the end"));
    CHECK(has(msg, "announces 7 images of 3x4, 100 bytes in all, but the file holds 105"));
    write_file(dir.path / "long-labels", idx_labels(kLabels) + "x", false);
    msg = load(good_images, dir.path / "long-labels");
    CHECK(has(msg, "long-labels': 1 bytes after the end of the IDX data"));
    CHECK(has(msg, "announces 7 labels, 15 bytes in all, but the file holds 16"));
  }
  SUBCASE("a directory where a file should be") {
    fs::create_directories(dir.path / "images-dir");
    const std::string msg = load(dir.path / "images-dir", good_labels);
    CHECK(msg == "'" + (dir.path / "images-dir").string() + "': is a directory, expected a file");
  }
  SUBCASE("image and label counts differ") {
    write_file(dir.path / "six-labels.gz", idx_labels({1, 2, 3, 4, 5, 6}), true);
    const std::string msg = load(good_images, dir.path / "six-labels.gz");
    INFO(msg);
    CHECK(has(msg, "image/label count mismatch"));
    CHECK(has(msg, "good-images.gz"));
    CHECK(has(msg, "six-labels.gz"));
    CHECK(has(msg, "7 images"));
    CHECK(has(msg, "6 labels"));
  }
  SUBCASE("label out of range") {
    write_file(dir.path / "big-label.gz", idx_labels({0, 1, 2, 3, 10, 5, 6}), true);
    const std::string msg = load(good_images, dir.path / "big-label.gz");
    INFO(msg);
    CHECK(has(msg, "big-label.gz"));
    CHECK(has(msg, "item 4 has label 10, out of range for 10 classes"));
    // num_classes is what decides the range.
    const std::string narrow = load(good_images, good_labels, 4);
    INFO(narrow);
    CHECK(has(narrow, "item 2 has label 9, out of range for 4 classes"));
  }
}

TEST_CASE("fashion-mnist: train then test - .gz preferred - raw accepted - missing named") {
  TempDir dir("fmnist-layout");
  const Dataset d = test::synthetic_images(3, 10, 11);  // 30 items, 28x28
  test::write_fashion_mnist_dir(d, 20, dir.path);

  const Dataset loaded = load_fashion_mnist(dir.path);
  CHECK(test::shape_of(loaded) == "fashion-mnist: 30 items (20 official training), 1x28x28");
  CHECK(loaded.labels == d.labels);
  CHECK(loaded.pixels == d.pixels);
  REQUIRE(loaded.class_names.size() == 10);
  CHECK(loaded.class_names[0] == "T-shirt/top");
  CHECK(loaded.class_names[9] == "Ankle boot");

  // An uncompressed file beside the .gz is ignored ...
  write_raw(dir.path / "train-labels-idx1-ubyte", "garbage");
  CHECK(load_fashion_mnist(dir.path).labels == d.labels);
  // ... and used once the .gz is gone.
  fs::remove(dir.path / "train-labels-idx1-ubyte.gz");
  const std::string msg = error_message([&] { load_fashion_mnist(dir.path); });
  INFO(msg);
  CHECK(has(msg, "train-labels-idx1-ubyte"));
  CHECK(has(msg, "wrong magic number"));

  fs::remove(dir.path / "train-labels-idx1-ubyte");
  const std::string missing = error_message([&] { load_fashion_mnist(dir.path); });
  INFO(missing);
  CHECK(has(missing, "train-labels-idx1-ubyte.gz"));
  CHECK(has(missing, "not found"));
}

namespace {

// One CIFAR-10 record: a label byte, then R, G and B planes of 32x32 bytes each.
std::string cifar_record(int label, int64_t item) {
  std::string s(1, static_cast<char>(label));
  for (int64_t p = 0; p < 3072; ++p) s.push_back(static_cast<char>(pixel_value(item, p)));
  return s;
}

// Six batches (data_batch_1..5.bin with 2 records each, test_batch.bin with 3); item k has
// label k % 10.
void write_cifar_dir(const fs::path& dir) {
  int64_t item = 0;
  for (int b = 1; b <= 6; ++b) {
    const int records = b <= 5 ? 2 : 3;
    std::string bytes;
    for (int r = 0; r < records; ++r, ++item)
      bytes += cifar_record(static_cast<int>(item % 10), item);
    write_raw(dir / (b <= 5 ? "data_batch_" + std::to_string(b) + ".bin" : "test_batch.bin"),
              bytes);
  }
}

}  // namespace

TEST_CASE("cifar10: records round-trip in C - H - W layout - class names") {
  TempDir dir("cifar-round-trip");
  write_cifar_dir(dir.path);

  const Dataset d = load_cifar10(dir.path);
  REQUIRE(d.size() == 13);
  CHECK(test::shape_of(d) == "cifar10: 13 items (10 official training), 3x32x32");
  REQUIRE(d.pixels.size() == 13 * 3072);
  for (int64_t i = 0; i < d.size(); ++i) {
    CHECK(d.single_label(i) == i % 10);
    for (int64_t p = 0; p < 3072; ++p) REQUIRE(d.image(i)[p] == pixel_value(i, p));
  }
  // Channel c, row y, column x sits at c*1024 + y*32 + x, as in the record's planes.
  CHECK(d.image(4)[2 * 1024 + 5 * 32 + 7] == pixel_value(4, 2 * 1024 + 5 * 32 + 7));
  REQUIRE(d.class_names.size() == 10);
  CHECK(d.class_names[0] == "airplane");
  CHECK(d.class_names[9] == "truck");

  std::ofstream(dir.path / "batches.meta.txt") << "a0\nb1\r\n\nc2\nd3\ne4\nf5\ng6\nh7\ni8\nj9\n\n";
  const Dataset named = load_cifar10(dir.path);
  REQUIRE(named.class_names.size() == 10);
  CHECK(named.class_names[1] == "b1");
  CHECK(named.class_names[2] == "c2");
  CHECK(named.class_names[9] == "j9");

  std::ofstream(dir.path / "batches.meta.txt") << "one\ntwo\n";
  const std::string msg = error_message([&] { load_cifar10(dir.path); });
  INFO(msg);
  CHECK(has(msg, "batches.meta.txt"));
  CHECK(has(msg, "expected 10 class names, found 2"));
}

TEST_CASE("cifar10: bad batches give an Error naming the file and the problem") {
  TempDir dir("cifar-errors");
  write_cifar_dir(dir.path);

  SUBCASE("truncated record") {
    const fs::path file = dir.path / "data_batch_2.bin";
    fs::resize_file(file, fs::file_size(file) - 100);
    const std::string msg = error_message([&] { load_cifar10(dir.path); });
    INFO(msg);
    CHECK(has(msg, "data_batch_2.bin"));
    CHECK(has(msg, "truncated record"));
  }
  SUBCASE("a directory where a batch file should be") {
    const fs::path file = dir.path / "data_batch_3.bin";
    fs::remove(file);
    fs::create_directories(file);
    const std::string msg = error_message([&] { load_cifar10(dir.path); });
    CHECK(msg == "'" + file.string() + "': is a directory, expected a file");
  }
  SUBCASE("label out of range") {
    write_raw(dir.path / "test_batch.bin", cifar_record(4, 0) + cifar_record(10, 1));
    const std::string msg = error_message([&] { load_cifar10(dir.path); });
    INFO(msg);
    CHECK(has(msg, "test_batch.bin"));
    CHECK(has(msg, "record 1 has label 10, out of range for 10 classes"));
  }
  SUBCASE("missing batch") {
    fs::remove(dir.path / "data_batch_3.bin");
    const std::string msg = error_message([&] { load_cifar10(dir.path); });
    INFO(msg);
    CHECK(has(msg, "data_batch_3.bin"));
    CHECK(has(msg, "not found"));
  }
}

TEST_CASE("dataset: single_label needs exactly one bit - concatenate checks shapes") {
  Dataset a = test::synthetic_images(2, 3, 1, 8);
  a.name = "left";
  a.official_train_size = 6;
  const Dataset b = test::synthetic_images(1, 3, 2, 8);
  const Dataset both = concatenate(a, b);
  CHECK(both.size() == 9);
  CHECK(both.official_train_size == 6);
  CHECK(both.pixels.size() == 9 * 64);
  CHECK(both.single_label(7) == 1);
  CHECK(std::equal(b.image(2), b.image(2) + 64, both.image(8)));

  a.labels[1] = LabelSet{};
  a.labels[2] = LabelSet::of(0);
  a.labels[2].set(2);
  CHECK_THROWS_WITH_AS(a.single_label(1), doctest::Contains("item 1 has 0 labels"), Error);
  CHECK_THROWS_WITH_AS(a.single_label(2), doctest::Contains("item 2 has 2 labels"), Error);

  Dataset c = test::synthetic_images(1, 3, 3, 12);
  c.name = "right";
  CHECK_THROWS_WITH_AS(
      concatenate(a, c),
      doctest::Contains("'left' (1x8x8, 3 classes) and 'right' (1x12x12, 3 classes)"), Error);
  Dataset d = test::synthetic_images(1, 4, 3, 8);
  d.name = "more-classes";
  CHECK_THROWS_WITH_AS(concatenate(a, d), doctest::Contains("'more-classes' (1x8x8, 4 classes)"),
                       Error);
}

TEST_CASE("fashion-mnist: the installed dataset loads and splits as docs/protocol.md says") {
  if (!fs::exists(kFashionMnistDir)) {
    MESSAGE("skipped: " << kFashionMnistDir << " is not installed");
    return;
  }
  const Dataset d = load_fashion_mnist();
  CHECK(d.size() == 70000);
  CHECK(d.official_train_size == 60000);
  CHECK(d.image_bytes() == 784);
  std::vector<int> per_class(10, 0);
  for (int64_t i = 0; i < d.size(); ++i) ++per_class[d.single_label(i)];
  for (int c = 0; c < 10; ++c) CHECK(per_class[c] == 7000);

  const Split s = make_split("fmnist-1", d, 0);
  CHECK(s.query.size() == 1000);
  CHECK(s.train.size() == 5000);
  CHECK(s.database.size() == 69000);
  const Split official = make_split("fmnist-2", d, 0);
  CHECK(official.query.size() == 10000);
  CHECK(official.database.size() == 60000);
}
