// Image-list datasets (NUS-WIDE format) on small generated folders of PNG, BMP and JPEG
// files written with stb_image_write.
#include <doctest/doctest.h>
#include <stb_image_write.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "framework/data/image_list.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/experiment/runner.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

// Interleaved pixels (row-major, `comp` bytes per pixel) of a w x h image.
using Pixels = std::vector<uint8_t>;

void write_png(const fs::path& file, int w, int h, int comp, const Pixels& px) {
  fs::create_directories(file.parent_path());
  REQUIRE(stbi_write_png(file.c_str(), w, h, comp, px.data(), w * comp) != 0);
}

void write_bmp(const fs::path& file, int w, int h, const Pixels& px) {
  REQUIRE(stbi_write_bmp(file.c_str(), w, h, 3, px.data()) != 0);
}

void write_jpg(const fs::path& file, int w, int h, const Pixels& px) {
  REQUIRE(stbi_write_jpg(file.c_str(), w, h, 3, px.data(), 95) != 0);
}

void write_text(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

Pixels constant_rgb(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  Pixels px;
  for (int i = 0; i < w * h; ++i) px.insert(px.end(), {r, g, b});
  return px;
}

// 4x4 RGB: pixel (x, y) = (10x, 10y, 7).
Pixels gradient() {
  Pixels px;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      px.insert(px.end(), {static_cast<uint8_t>(10 * x), static_cast<uint8_t>(10 * y), 7});
  return px;
}

// Channel ch, row y, column x of item i (C, H, W planes).
int pixel(const Dataset& d, int64_t i, int ch, int y, int x) {
  return d.image(i)[(ch * d.height + y) * d.width + x];
}

// A folder with one image of each kind: a.png (the gradient), sub/g.png (grey 100 + x),
// big.bmp (8x8, constant), half.png (8x8, left half black, right half white), photo.jpg
// (8x8, constant).
fs::path image_folder(const std::string& name) {
  const fs::path dir = test::fresh_temp_dir(name);
  write_png(dir / "a.png", 4, 4, 3, gradient());
  Pixels grey;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) grey.push_back(static_cast<uint8_t>(100 + x));
  write_png(dir / "sub" / "g.png", 4, 4, 1, grey);
  write_bmp(dir / "big.bmp", 8, 8, constant_rgb(8, 8, 200, 50, 25));
  Pixels half;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) half.push_back(x < 4 ? 0 : 255);
  write_png(dir / "half.png", 8, 8, 1, half);
  write_jpg(dir / "photo.jpg", 8, 8, constant_rgb(8, 8, 30, 160, 90));
  return dir;
}

std::string error_loading(const fs::path& list, const ImageListOptions& options = {}) {
  return test::error_message([&] { load_image_list(list, options, "x"); });
}

}  // namespace

TEST_CASE("image list: PNG - BMP - JPEG decoded to RGB planes - resized - labels read") {
  const fs::path dir = image_folder("image-list");
  write_text(dir / "list.txt", "a.png 1 0 0\nsub/g.png 0 1 1\n\nbig.bmp 0 0 1\n" +
                                   (dir / "photo.jpg").string() + " 1 1 1\nhalf.png\t0 1 0\r\n");
  const Dataset d = load_image_list(dir / "list.txt", ImageListOptions{{}, 4}, "tiny");
  REQUIRE(d.size() == 5);
  CHECK(d.name == "tiny");
  CHECK(d.channels == 3);
  CHECK(d.height == 4);
  CHECK(d.width == 4);
  CHECK(d.class_names == std::vector<std::string>{"0", "1", "2"});
  CHECK(d.official_train_size == 0);
  CHECK(d.labels[0] == test::label_set(0b001));
  CHECK(d.labels[1] == test::label_set(0b110));
  CHECK(d.labels[2] == test::label_set(0b100));
  CHECK(d.labels[3] == test::label_set(0b111));
  CHECK(d.labels[4] == test::label_set(0b010));
  // The gradient, already 4x4, arrives exactly: R = 10x, G = 10y, B = 7.
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      CHECK(pixel(d, 0, 0, y, x) == 10 * x);
      CHECK(pixel(d, 0, 1, y, x) == 10 * y);
      CHECK(pixel(d, 0, 2, y, x) == 7);
    }
  // Grey is copied into all three channels.
  for (int ch = 0; ch < 3; ++ch) CHECK(pixel(d, 1, ch, 2, 3) == 103);
  // A constant 8x8 BMP stays that colour at 4x4 (to rounding); so does the JPEG (lossy).
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      CHECK(std::abs(pixel(d, 2, 0, y, x) - 200) <= 1);
      CHECK(std::abs(pixel(d, 2, 1, y, x) - 50) <= 1);
      CHECK(std::abs(pixel(d, 2, 2, y, x) - 25) <= 1);
      CHECK(std::abs(pixel(d, 3, 0, y, x) - 30) <= 4);
      CHECK(std::abs(pixel(d, 3, 1, y, x) - 160) <= 4);
      CHECK(std::abs(pixel(d, 3, 2, y, x) - 90) <= 4);
    }
  // Downsizing keeps left as left: the black half stays dark, the white half bright.
  for (int y = 0; y < 4; ++y) {
    CHECK(pixel(d, 4, 0, y, 0) < 30);
    CHECK(pixel(d, 4, 0, y, 3) > 225);
  }

  // The same images at another size.
  const Dataset big = load_image_list(dir / "list.txt", ImageListOptions{{}, 8}, "tiny");
  CHECK(big.image_bytes() == 3 * 8 * 8);
  CHECK(std::abs(pixel(big, 2, 0, 7, 7) - 200) <= 1);
  fs::remove_all(dir);
}

TEST_CASE("image list: relative paths start at image_root when one is given") {
  const fs::path dir = image_folder("image-root");
  write_text(dir / "lists" / "list.txt", "a.png 1\nsub/g.png 1\n");
  CHECK(error_loading(dir / "lists" / "list.txt")
            .find("line 1: image '" + (dir / "lists" / "a.png").string() + "' not found") !=
        std::string::npos);
  const Dataset d = load_image_list(dir / "lists" / "list.txt", ImageListOptions{dir, 4}, "x");
  CHECK(d.size() == 2);
  CHECK(pixel(d, 0, 0, 0, 3) == 30);
  fs::remove_all(dir);
}

TEST_CASE("image list: every bad line gives an Error naming the file and the line") {
  const fs::path dir = image_folder("image-list-errors");
  auto list = [&](const std::string& name, const std::string& text) {
    write_text(dir / name, text);
    return dir / name;
  };
  write_text(dir / "garbage.png", "this is not an image");
  const std::string missing = error_loading(list("missing.txt", "a.png 1\nnope.png 1\n"));
  CHECK(missing.find("missing.txt' line 2: image '" + (dir / "nope.png").string() +
                     "' not found") != std::string::npos);
  CHECK(error_loading(list("undecodable.txt", "a.png 1 0\n\ngarbage.png 0 1\n"))
            .find("undecodable.txt' line 3: cannot decode image '" +
                  (dir / "garbage.png").string() + "'") != std::string::npos);
  CHECK(error_loading(list("count.txt", "a.png 1 0 0\nbig.bmp 1 0\n"))
            .find("count.txt' line 2: 2 labels, expected 3 (as on the first line)") !=
        std::string::npos);
  CHECK(error_loading(list("value.txt", "a.png 1 2 0\n"))
            .find("value.txt' line 1: label 2 is '2', expected 0 or 1") != std::string::npos);
  CHECK(error_loading(list("value2.txt", "a.png 1 yes 0\n")).find("label 2 is 'yes'") !=
        std::string::npos);
  CHECK(error_loading(list("none.txt", "a.png 1 0\nbig.bmp 0 0\n"))
            .find("none.txt' line 2: image 'big.bmp' has no label (all 2 are 0)") !=
        std::string::npos);
  CHECK(error_loading(list("bare.txt", "a.png\n"))
            .find("bare.txt' line 1: no labels after the image path 'a.png'") != std::string::npos);
  std::string wide = "a.png";
  for (int c = 0; c < 129; ++c) wide += " 1";
  CHECK(error_loading(list("wide.txt", wide + "\n"))
            .find("wide.txt' line 1: 129 labels, at most 128 classes are supported") !=
        std::string::npos);
  CHECK(error_loading(list("empty.txt", "\n\n")).find("empty.txt': no images listed") !=
        std::string::npos);
  CHECK(error_loading(dir / "absent.txt").find("absent.txt': list file not found") !=
        std::string::npos);
  fs::create_directories(dir / "folder.txt");
  CHECK(
      error_loading(dir / "folder.txt").find("folder.txt': is a directory, expected a list file") !=
      std::string::npos);
  CHECK(error_loading(dir / "missing.txt", ImageListOptions{{}, 0})
            .find("image_size must be in 1..4096") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("image list: a PNM stb would misread (0x0, 16-bit, truncated) is refused") {
  // Found by fuzz_image_list: a PPM whose width is not a number decodes to a 0x0 image,
  // and stb's resizer aborts on it.
  const fs::path dir = image_folder("image-list-empty");
  write_text(dir / "empty.ppm", std::string("P6\nP3 2\n255\n") + std::string(18, '\x01'));
  write_text(dir / "list.txt", "a.png 1\nempty.ppm 1\n");
  CHECK(error_loading(dir / "list.txt") == "'" + (dir / "list.txt").string() + "' line 2: image '" +
                                               (dir / "empty.ppm").string() +
                                               "': unreadable PNM header");
  // A 16-bit PGM whose pixels are cut short made stb read past its buffer (found by
  // fuzz_image_list); binary PNM headers are checked before stb sees them.
  write_text(dir / "deep.pgm", "P5 5  1530 1530m");
  write_text(dir / "deep.txt", "deep.pgm 1\n");
  CHECK(error_loading(dir / "deep.txt")
            .find("image '" + (dir / "deep.pgm").string() +
                  "': PNM maxval 1530 (only 8-bit PNM, maxval 1..255, is read)") !=
        std::string::npos);
  write_text(dir / "short.ppm", "P6 2 2 255\n" + std::string(11, '\x01'));
  write_text(dir / "short.txt", "short.ppm 1\n");
  CHECK(error_loading(dir / "short.txt").find("': truncated PNM (2x2 announced)") !=
        std::string::npos);
  // A header announcing 444 million pixels is refused before decoding (found by fuzzing).
  write_text(dir / "huge.ppm", "P6\n6665\n66665\n255\n");
  write_text(dir / "huge.txt", "huge.ppm 1\n");
  CHECK(error_loading(dir / "huge.txt")
            .find("huge.txt' line 1: image '" + (dir / "huge.ppm").string() +
                  "' is 6665x66665, more than 67108864 pixels") != std::string::npos);
  // A name longer than the file system allows is an answer about that line too.
  write_text(dir / "long.txt", "a.png 1\n" + std::string(300, 'x') + ".png 1\n");
  CHECK(error_loading(dir / "long.txt")
            .find("long.txt' line 2: image '" + (dir / (std::string(300, 'x') + ".png")).string() +
                  "' cannot be looked up (File name too long)") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("image list: 80 label columns load - items sharing only class 70 are relevant") {
  const fs::path dir = image_folder("image-list-80");
  auto line = [](const std::string& image, std::vector<int> classes) {
    std::string text = image;
    for (int c = 0; c < 80; ++c)
      text += std::find(classes.begin(), classes.end(), c) != classes.end() ? " 1" : " 0";
    return text + "\n";
  };
  write_text(dir / "list.txt", line("a.png", {2, 70}) + line("big.bmp", {70, 79}) +
                                   line("half.png", {71}) + line("photo.jpg", {2}));
  const Dataset d = load_image_list(dir / "list.txt", ImageListOptions{{}, 4}, "coco-like");
  REQUIRE(d.size() == 4);
  CHECK(d.num_classes() == 80);
  CHECK(d.has_label(1, 79));
  CHECK(d.labels[1].count() == 2);
  CHECK(relevant(d.labels[0], d.labels[1]));        // class 70 alone in common
  CHECK_FALSE(relevant(d.labels[1], d.labels[2]));  // 70, 79 against 71
  CHECK(relevant(d.labels[0], d.labels[3]));        // class 2
  fs::remove_all(dir);
}

TEST_CASE("nuswide: list.txt - or database.txt then test.txt - and concept names") {
  const fs::path dir = image_folder("nuswide-layouts");
  write_text(dir / "one" / "list.txt", "../a.png 1 0\n../big.bmp 0 1\n");
  const Dataset one = load_nuswide(dir / "one", ImageListOptions{{}, 4});
  CHECK(one.name == "nuswide");
  CHECK(one.size() == 2);
  CHECK(one.official_train_size == 0);

  const fs::path two = dir / "two";
  write_text(two / "database.txt", "../a.png 1 0\n../big.bmp 0 1\n../half.png 1 1\n");
  write_text(two / "test.txt", "../photo.jpg 0 1\n");
  write_text(two / "train.txt", "not read: a subset of the database in the usual releases\n");
  write_text(two / "concepts.txt", "sky\n\nwater\n");
  const Dataset d = load_nuswide(two, ImageListOptions{{}, 4});
  REQUIRE(d.size() == 4);
  CHECK(d.official_train_size == 3);
  CHECK(d.class_names == std::vector<std::string>{"sky", "water"});
  CHECK(d.labels[3] == test::label_set(0b10));       // the test image comes last
  CHECK(std::abs(pixel(d, 3, 1, 0, 0) - 160) <= 4);  // photo.jpg's green
  CHECK(make_split("fmnist-2", d, 0).query == std::vector<int64_t>{3});  // official division

  write_text(two / "concepts.txt", "sky\n");
  CHECK(test::error_message([&] {
          load_nuswide(two);
        }).find("concepts.txt': 1 concept names, but the lists have 2 label columns") !=
        std::string::npos);
  fs::create_directories(dir / "empty");
  CHECK(test::error_message([&] {
          load_nuswide(dir / "empty");
        }).find("holds neither list.txt nor database.txt and test.txt") != std::string::npos);
  CHECK(test::error_message([&] { load_nuswide(dir / "absent"); }).find("is not a folder") !=
        std::string::npos);
  fs::remove_all(dir);
}

#if HAMSTER_WITH_TORCH  // trains dsh
TEST_CASE("nuswide: a small image-list folder runs end to end with the per-concept split") {
  // 90 8x8 images over 3 concepts; concept c brightens colour channel c, so the labels
  // are learnable from the pixels.
  const fs::path root = test::fresh_temp_dir("nuswide-run");
  Rng rng(5);
  std::string list;
  for (int i = 0; i < 90; ++i) {
    LabelSet labels = LabelSet::of(i % 3);
    if (rng.below(3) == 0) labels.set(static_cast<int>(rng.below(3)));
    Pixels px;
    for (int p = 0; p < 64; ++p)
      for (int ch = 0; ch < 3; ++ch)
        px.push_back(static_cast<uint8_t>((labels.test(ch) ? 160 : 30) + rng.below(60)));
    const std::string name = "img" + std::to_string(i) + ".png";
    write_png(root / "data" / "images" / name, 8, 8, 3, px);
    list += "images/" + name;
    for (int c = 0; c < 3; ++c) list += labels.test(c) ? " 1" : " 0";
    list += "\n";
  }
  write_text(root / "data" / "list.txt", list);
  std::ostringstream yaml;
  yaml << "name: nus\n"
       << "dataset: {name: nuswide, path: " << (root / "data").string() << ", image_size: 8}\n"
       << "protocol: per-concept\n"
       << "split: {query_per_class: 3, train_per_class: 10}\n"
       << "bits: [16]\nshortlist: 20\n"
       << "hashers:\n  - lsh\n  - name: dsh\n    params: {epochs: 2, batch_size: 10}\n"
       << "rerankers: [none]\n"
       << "metrics: {map_at: [all, 20], precision_at: [10], recall_at: [20]}\n"
       << "output: " << (root / "results").string() << "\n";
  const ExperimentConfig c = parse_config(yaml.str(), "nus.yaml");
  std::ostringstream log;
  CHECK(run_experiment(c, {}, log) == 2);
  std::ifstream in(c.output_dir / "results.jsonl");
  int records = 0;
  for (std::string line; std::getline(in, line); ++records) {
    const auto r = nlohmann::json::parse(line);
    CHECK(r["dataset"] == "nuswide");
    CHECK(r["queries"] == 9);
    CHECK(r["database"] == 81);
    CHECK(r["metrics"]["mAP@all"].get<double>() > 0.3);
  }
  CHECK(records == 2);
  fs::remove_all(root);
}
#endif
