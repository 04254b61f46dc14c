// fmnist-mosaic: 2x2 mosaics of Fashion-MNIST images, labels the union of the four.
#include <doctest/doctest.h>

#include <set>
#include <vector>

#include "framework/data/loaders.h"
#include "framework/data/mosaic.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/experiment/config.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

namespace {

// Quadrant q of the mosaic must be source item id, pixel for pixel.
bool quadrant_is(const Dataset& mosaics, int64_t m, int q, const Dataset& source, int64_t id) {
  const int64_t h = source.height, w = source.width;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t my = (q / 2) * h + y, mx = (q % 2) * w + x;
      if (mosaics.image(m)[my * mosaics.width + mx] != source.image(id)[y * w + x]) return false;
    }
  return true;
}

}  // namespace

TEST_CASE("mosaic: the four tiles land in their quadrants and the labels are their union") {
  const Dataset source = test::synthetic_images(4, 5, 3, 8);  // 20 items of 8x8, 5 classes
  const std::vector<MosaicTiles> tiles = {{0, 1, 2, 3}, {7, 7, 12, 19}, {5, 10, 15, 0}};
  const Dataset m = make_mosaics(source, tiles);
  REQUIRE(m.size() == 3);
  CHECK(m.channels == 1);
  CHECK(m.height == 16);
  CHECK(m.width == 16);
  CHECK(m.class_names == source.class_names);
  for (int64_t i = 0; i < 3; ++i)
    for (int q = 0; q < 4; ++q) {
      CAPTURE(i);
      CAPTURE(q);
      CHECK(quadrant_is(m, i, q, source, tiles[i][q]));
    }
  CHECK_FALSE(quadrant_is(m, 0, 1, source, 0));  // the check can fail: tiles differ
  // Item k of the synthetic source has class k % 5.
  LabelSet first;
  for (int c : {0, 1, 2, 3}) first.set(c);
  CHECK(m.labels[0] == first);
  LabelSet second;
  for (int c : {2, 4}) second.set(c);  // 7, 7, 12, 19 -> 2, 2, 2, 4
  CHECK(m.labels[1] == second);
  CHECK(m.labels[2] == LabelSet::of(0));  // 5, 10, 15, 0 are all class 0
  CHECK_THROWS_WITH_AS(make_mosaics(source, {{0, 1, 2, 20}}),
                       doctest::Contains("mosaic 0: tile 20 is outside the source's 20 items"),
                       Error);
}

TEST_CASE("mosaic: tiles are drawn from the seed alone") {
  const auto a = draw_mosaic_tiles(70000, 500, 1);
  CHECK(a == draw_mosaic_tiles(70000, 500, 1));
  CHECK(a != draw_mosaic_tiles(70000, 500, 2));
  std::set<int64_t> used;
  for (const MosaicTiles& t : a)
    for (int64_t id : t) {
      CHECK(id >= 0);
      CHECK(id < 70000);
      used.insert(id);
    }
  CHECK(used.size() > 1900);  // 2,000 draws from 70,000 rarely repeat
  CHECK_THROWS_WITH_AS(draw_mosaic_tiles(10, 0, 1), "mosaics: count must be >= 1, got 0", Error);
}

TEST_CASE("mosaic: built from the installed Fashion-MNIST - the split is seeded") {
  const Dataset source = load_fashion_mnist();
  const Dataset m = load_fmnist_mosaic(kFashionMnistDir, 20000, 4);
  REQUIRE(m.size() == 20000);
  CHECK(m.name == "fmnist-mosaic");
  CHECK(m.height == 56);
  CHECK(m.width == 56);
  CHECK(m.official_train_size == 0);
  const auto tiles = draw_mosaic_tiles(source.size(), 20000, 4);
  for (int64_t i : {int64_t{0}, int64_t{12345}, int64_t{19999}}) {
    LabelSet expected;
    for (int q = 0; q < 4; ++q) {
      CHECK(quadrant_is(m, i, q, source, tiles[i][q]));
      expected.set(source.single_label(tiles[i][q]));
    }
    CHECK(m.labels[i] == expected);
  }

  const Split s = make_split("fmnist-mosaic", m, 0);
  CHECK(s.query.size() == 1000);
  CHECK(s.train.size() == 5000);
  CHECK(s.database.size() == 19000);
  const Split again = make_split("fmnist-mosaic", m, 0);
  CHECK(again.query == s.query);
  CHECK(again.train == s.train);
  CHECK(make_split("fmnist-mosaic", m, 1).query != s.query);
}

TEST_CASE("config: fmnist-mosaic and nuswide take their own options and default protocols") {
  const std::string rest = "hashers: [lsh]\nrerankers: [none]\n";
  const ExperimentConfig m = parse_config(
      "name: m\ndataset: {name: fmnist-mosaic, mosaics: 500, mosaic_seed: 3}\n" + rest, "m.yaml");
  CHECK(m.protocol == "fmnist-mosaic");
  CHECK(m.mosaics == 500);
  CHECK(m.mosaic_seed == 3);
  const ExperimentConfig n = parse_config(
      "name: n\ndataset: {name: nuswide, path: /data/nus, image_root: /img, image_size: 64}\n" +
          rest,
      "n.yaml");
  CHECK(n.protocol == "nuswide-21");
  CHECK(n.dataset_path == "/data/nus");
  CHECK(n.image_root == "/img");
  CHECK(n.image_size == 64);
  CHECK(parse_config("name: c\ndataset: cifar10\n" + rest, "c.yaml").protocol == "cifar10");
  CHECK(parse_config("name: f\n" + rest, "f.yaml").protocol == "fmnist-1");

  // The error for a config's `dataset:` and `protocol:` lines (name: x, the rest as above).
  const auto error = [&](const std::string& lines) {
    return test::error_message([&] { parse_config("name: x\n" + lines + rest, "x.yaml"); });
  };
  const auto check_error_holds = [&](const std::string& lines, const std::string& part) {
    const std::string message = error(lines);
    CHECK_MESSAGE(message.find(part) != std::string::npos, message);
  };
  CHECK(error("dataset: {name: fashion-mnist, image_size: 64}\n") ==
        "x.yaml: dataset.image_size: not an option of dataset fashion-mnist");
  CHECK(error("dataset: {name: fmnist-mosaic, mosaics: 0}\n") ==
        "x.yaml: dataset.mosaics: must be >= 1");
  CHECK(error("dataset: fmnist-mosaic\nprotocol: fmnist-1\n") ==
        "x.yaml: protocol: protocol 'fmnist-1' is defined on fashion-mnist, not fmnist-mosaic");
  check_error_holds("dataset: coco\n",
                    "x.yaml: dataset: unknown dataset 'coco' (known: fashion-mnist, cifar10, "
                    "nuswide, fmnist-mosaic)");
  check_error_holds("protocol: fmnist-3\n", "x.yaml: protocol: unknown protocol 'fmnist-3'");
  check_error_holds("protocol: per-concept\nsplit: {database_includes_train: false}\n",
                    "x.yaml: split.database_includes_train: only used with protocol: stratified");
}
