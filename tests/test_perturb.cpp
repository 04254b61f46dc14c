// Query perturbations (framework/data/perturb.h) and the perturb: axis of a grid.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "framework/data/perturb.h"
#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/experiment/pivot.h"
#include "framework/experiment/runner.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

// One 1 x 8 x 8 image with a bright 4 x 4 square in the middle, on a dark background.
Dataset square() {
  Dataset d;
  d.name = "square";
  d.channels = 1, d.height = 8, d.width = 8;
  d.pixels.assign(64, 20);
  for (int y = 2; y < 6; ++y)
    for (int x = 2; x < 6; ++x) d.pixels[y * 8 + x] = 220;
  d.labels = {LabelSet::of(3)};
  d.class_names = {"a", "b", "c", "d"};
  return d;
}

double mean(const Dataset& d) {
  double s = 0;
  for (uint8_t v : d.pixels) s += v;
  return s / static_cast<double>(d.pixels.size());
}

}  // namespace

TEST_CASE("perturb: each kind parses - bad kinds and strengths are refused") {
  CHECK(parse_perturbation("none", "w").none());
  const Perturbation p = parse_perturbation("noise=0.25", "w");
  CHECK(p.kind == "noise");
  CHECK(p.strength == doctest::Approx(0.25));
  CHECK(p.label() == "noise=0.25");
  CHECK(parse_perturbation("brightness=-0.2", "w").label() == "brightness=-0.2");
  CHECK_THROWS_WITH_AS(parse_perturbation("rotate=10", "c.yaml: perturb[1]"),
                       "c.yaml: perturb[1]: unknown perturbation 'rotate=10' (known: none, "
                       "noise=S, blur=S, occlude=S, brightness=S, contrast=S)",
                       Error);
  CHECK_THROWS_WITH_AS(parse_perturbation("noise", "w"), doctest::Contains("unknown perturbation"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_perturbation("blur=abc", "w"),
                       "w: perturbation 'blur=abc' needs a number after '='", Error);
  for (const char* bad : {"noise=0", "blur=-1", "occlude=1.5", "contrast=0", "brightness=2",
                          "brightness=0", "noise=nan"})
    CHECK_THROWS_AS(parse_perturbation(bad, "w"), Error);
}

TEST_CASE("perturb: what each kind does to an image") {
  const Dataset d = square();
  auto apply = [&](const std::string& text) {
    return perturbed_subset(d, {0}, parse_perturbation(text, "t"), 7);
  };
  const Dataset same = apply("none");
  CHECK(same.pixels == d.pixels);
  CHECK(same.labels[0] == d.labels[0]);

  // Brightness: every pixel shifted by 0.1 x 255 = 25.5 -> 26 (rounded), clamped at 255.
  const Dataset bright = apply("brightness=0.1");
  CHECK(bright.pixels[0] == 46);
  CHECK(bright.pixels[2 * 8 + 2] == 246);
  CHECK(apply("brightness=0.5").pixels[2 * 8 + 2] == 255);

  // Contrast 0.5: halfway to the mean (20 x 48 + 220 x 16) / 64 = 70: 20 -> 45, 220 -> 145.
  const Dataset flat = apply("contrast=0.5");
  CHECK(flat.pixels[0] == 45);
  CHECK(flat.pixels[2 * 8 + 2] == 145);

  // Blur keeps the mean (up to rounding and the clamped border) and softens the edge.
  const Dataset blurred = apply("blur=1");
  CHECK(mean(blurred) == doctest::Approx(mean(d)).epsilon(0.05));
  CHECK(blurred.pixels[2 * 8 + 2] < 220);
  CHECK(blurred.pixels[1 * 8 + 1] > 20);

  // Occlusion 0.25 of 64 pixels: a 4 x 4 mid-grey square.
  const Dataset hidden = apply("occlude=0.25");
  int grey = 0;
  for (uint8_t v : hidden.pixels) grey += v == 128;
  CHECK(grey == 16);

  // Noise changes most pixels, with about the asked standard deviation.
  const Dataset noisy = apply("noise=0.1");
  double sq = 0;
  int changed = 0;
  for (size_t i = 0; i < 64; ++i) {
    const double diff = double(noisy.pixels[i]) - d.pixels[i];
    sq += diff * diff;
    changed += diff != 0;
  }
  CHECK(changed > 48);
  CHECK(std::sqrt(sq / 64) == doctest::Approx(25.5).epsilon(0.4));
}

TEST_CASE("perturb: seeded per item - the same whatever the order or company") {
  const Dataset d = test::synthetic_images(10, 4, 3);
  const Perturbation p = parse_perturbation("noise=0.2", "t");
  const Dataset ab = perturbed_subset(d, {5, 9}, p, 1);
  const Dataset ba = perturbed_subset(d, {9, 5}, p, 1);
  const Dataset b = perturbed_subset(d, {9}, p, 1);
  const int64_t n = d.image_bytes();
  CHECK(std::equal(ab.pixels.begin(), ab.pixels.begin() + n, ba.pixels.begin() + n));
  CHECK(std::equal(b.pixels.begin(), b.pixels.end(), ab.pixels.begin() + n));
  CHECK(perturbed_subset(d, {5}, p, 2).pixels != perturbed_subset(d, {5}, p, 1).pixels);
  CHECK_THROWS_WITH_AS(perturbed_subset(d, {40}, p, 1), doctest::Contains("item 40 outside"),
                       Error);
}

TEST_CASE("runner: a perturb list evaluates every cell on degraded queries too") {
  const fs::path root = test::fresh_temp_dir("runner-perturb");
  test::write_fashion_mnist_dir(test::synthetic_images(60, 10, 9), 500, root / "data");
  auto config = [&](const std::string& perturb) {
    std::ostringstream yaml;
    yaml << "name: p\n"
         << "dataset: {name: fashion-mnist, path: " << (root / "data").string() << "}\n"
         << "protocol: stratified\nsplit: {query_per_class: 5, train_per_class: 20}\n"
         << "bits: [16]\nshortlist: 50\nhashers: [lsh]\nrerankers: [none, feature]\n"
         << perturb << "metrics: {map_at: [all], precision_at: [10], recall_at: [50]}\n"
         << "output: " << (root / "results").string() << "\n";
    return parse_config(yaml.str(), "p.yaml");
  };
  std::ostringstream log;
  // Clean queries first: the same cells, and keys, as a grid with no perturb: list.
  CHECK(run_experiment(config(""), {}, log) == 2);
  const ExperimentConfig c = config("perturb: [none, noise=0.5, occlude=0.5]\n");
  CHECK(run_experiment(c, {}, log) == 4);  // the clean cells are already done
  std::ifstream in(c.output_dir / "results.jsonl");
  std::map<std::string, double> map_all;
  std::string line;
  while (std::getline(in, line)) {
    const auto r = nlohmann::json::parse(line);
    map_all[r.at("cell").get<std::string>()] = r.at("metrics").at("mAP@all").get<double>();
    CHECK(r.at("perturb").get<std::string>() ==
          (r.at("cell").get<std::string>().find("noise") != std::string::npos     ? "noise=0.5"
           : r.at("cell").get<std::string>().find("occlude") != std::string::npos ? "occlude=0.5"
                                                                                  : "none"));
  }
  REQUIRE(map_all.size() == 6);
  REQUIRE(map_all.count("lsh/16b/seed0/noise=0.5/none"));
  // Heavy noise on the queries costs LSH on pixels accuracy.
  CHECK(map_all.at("lsh/16b/seed0/noise=0.5/none") < map_all.at("lsh/16b/seed0/none"));
  CHECK(map_all.at("lsh/16b/seed0/occlude=0.5/none") != map_all.at("lsh/16b/seed0/none"));
  // The pivot groups by it.
  PivotSpec spec;
  spec.rows = {"perturb"};
  spec.cols = {"reranker"};
  spec.metric = "mAP@all";
  const std::string table = test::unpadded(format_pivot(c.output_dir, spec));
  CHECK(table.find("| noise=0.5 |") != std::string::npos);
  // A filter can pick one perturbation.
  RunOptions only;
  only.filter = "perturb=noise=0.5";
  only.force = true;
  CHECK(run_experiment(c, only, log) == 6);  // --force redoes every cell of the build
  CHECK_THROWS_WITH_AS(config("perturb: [none, blur=1, blur=1]\n"),
                       "p.yaml: perturb[2]: 'blur=1' is listed twice", Error);
  fs::remove_all(root);
}
