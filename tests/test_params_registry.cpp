#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/hasher.h"
#include "framework/reranker.h"

using namespace hamster;

namespace {

// The plugin folders under `dir` of the source tree: those holding a source file that is
// not a test (a folder of headers only, such as rerankers/qe/, is shared code). Sorted,
// as the registry lists names.
std::vector<std::string> plugin_folders(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& folder :
       std::filesystem::directory_iterator(std::filesystem::path(HAMSTER_SOURCE_DIR) / dir)) {
    if (!folder.is_directory()) continue;
    for (const auto& file : std::filesystem::directory_iterator(folder.path())) {
      const std::string name = file.path().filename().string();
      if (file.path().extension() == ".cpp" && name.rfind("test_", 0) != 0) {
        out.push_back(folder.path().filename().string());
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("registry lists every built-in plugin: one per plugin folder, named as the folder") {
  // If a plugin's object file were dropped by the linker, it would vanish from here; a
  // folder the build did not pick up, or a plugin named apart from its folder, too.
  CHECK(HasherRegistry::instance().names() == plugin_folders("hashers"));
  CHECK(RerankerRegistry::instance().names() == plugin_folders("rerankers"));
  CHECK(RerankerRegistry::instance().names().size() == 13);
}

TEST_CASE("config: `all` lists every plugin that runs at its defaults, none first") {
  const ExperimentConfig c = parse_config("name: t\nhashers: all\nrerankers: all\n", "c.yaml");
  std::vector<std::string> hashers, rerankers;
  for (const PluginSpec& h : c.hashers) hashers.push_back(h.name);
  for (const PluginSpec& r : c.rerankers) rerankers.push_back(r.name);
  CHECK(hashers == HasherRegistry::instance().names());
  // external needs its command, so `all` leaves it out.
  std::vector<std::string> expected{"none"};
  for (const std::string& name : RerankerRegistry::instance().names())
    if (name != "none" && name != "external") expected.push_back(name);
  CHECK(rerankers == expected);
  CHECK(rerankers.size() + 1 == RerankerRegistry::instance().names().size());
}

TEST_CASE("unknown plugin names the known ones") {
  CHECK_THROWS_WITH_AS(HasherRegistry::instance().create("dhs", {}, 32),
                       "unknown plugin 'dhs' (known: csq, dpsh, dsdh, dsh, greedyhash, hashnet, "
                       "itq, lsh, orthohash)",
                       Error);
}

TEST_CASE("duplicate registration is an error") {
  CHECK_THROWS_WITH_AS(RerankerRegistry::instance().add("none", "again", {}, nullptr),
                       "plugin 'none' is registered twice", Error);
}

TEST_CASE("params: defaults - typed getters - unknown keys") {
  std::vector<ParamSpec> specs = {{"epochs", "40", ""}, {"lr", "0.001", ""}, {"bank", "true", ""}};
  Params p({{"epochs", "5"}}, specs, "dsh");
  CHECK(p.get_int("epochs") == 5);
  CHECK(p.get_double("lr") == doctest::Approx(0.001));
  CHECK(p.get_bool("bank"));
  CHECK(p.summary() == "epochs=5");
  CHECK_THROWS_WITH_AS(Params({{"epoch", "5"}}, specs, "dsh"),
                       "unknown parameter 'epoch' for 'dsh' (known: epochs, lr, bank)", Error);
  CHECK_THROWS_WITH_AS(Params({{"epochs", "five"}}, specs, "dsh").get_int("epochs"),
                       "dsh.epochs: expected an integer, got 'five'", Error);
  CHECK_THROWS_WITH_AS(Params({{"epochs", "4294967360"}}, specs, "dsh").get_int("epochs"),
                       "dsh.epochs: expected an integer, got '4294967360'", Error);
  CHECK_THROWS_WITH_AS(Params({{"lr", "nan"}}, specs, "dsh").get_double("lr"),
                       "dsh.lr: expected a finite number, got 'nan'", Error);
  CHECK_THROWS_WITH_AS(Params({{"bank", "maybe"}}, specs, "dsh").get_bool("bank"),
                       "dsh.bank: expected true or false, got 'maybe'", Error);
}

TEST_CASE("config: a valid grid parses") {
  ExperimentConfig c = parse_config(R"(
name: t
protocol: fmnist-1
bits: [16, 32]
seeds: [1, 2]
hashers:
  - name: dsh
    params: {epochs: 3}
  - lsh
rerankers: [none, feature]
metrics: {map_at: [all, 100]}
)",
                                    "t.yaml");
  CHECK(c.name == "t");
  CHECK(c.bits == std::vector<int>{16, 32});
  CHECK(c.seeds == std::vector<uint64_t>{1, 2});
  REQUIRE(c.hashers.size() == 2);
  CHECK(c.hashers[0].label() == "dsh(epochs=3)");
  CHECK(c.hashers[1].label() == "lsh");
  CHECK(c.eval.map_at == std::vector<int64_t>{kAll, 100});
  CHECK(c.output_dir.filename() == "t");
  // Same text, same hash; any change, another hash.
  CHECK(parse_config("name: t\nhashers: [lsh]\nrerankers: [none]\n", "a").hash ==
        parse_config("name: t\nhashers: [lsh]\nrerankers: [none]\n", "b").hash);
  CHECK(parse_config("name: t\nhashers: [lsh]\nrerankers: [none]\n", "a").hash !=
        parse_config("name: u\nhashers: [lsh]\nrerankers: [none]\n", "a").hash);
}

TEST_CASE("config: errors name the file and the key") {
  const std::string ok = "hashers: [lsh]\nrerankers: [none]\n";
  CHECK_THROWS_WITH_AS(parse_config("name: t\nbitz: [16]\n" + ok, "c.yaml"),
                       doctest::Contains("c.yaml: bitz: unknown key"), Error);
  CHECK_THROWS_WITH_AS(parse_config("name: t\nhashers: [dhs]\nrerankers: [none]\n", "c.yaml"),
                       doctest::Contains("c.yaml: hashers[0]: unknown plugin 'dhs'"), Error);
  CHECK_THROWS_WITH_AS(
      parse_config("name: t\nhashers: [{name: dsh, params: {epoch: 3}}]\nrerankers: [none]\n",
                   "c.yaml"),
      doctest::Contains("unknown parameter 'epoch' for 'dsh'"), Error);
  CHECK_THROWS_WITH_AS(parse_config("name: t\nbits: [0]\n" + ok, "c.yaml"),
                       doctest::Contains("c.yaml: bits: each code length must be in 1..1024"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_config("name: t\nshortlist: 0\n" + ok, "c.yaml"),
                       doctest::Contains("c.yaml: shortlist: must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(parse_config("name: t\nmetrics: {map_at: [-3]}\n" + ok, "c.yaml"),
                       doctest::Contains("metrics.map_at: expected a positive integer or 'all'"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_config(ok, "c.yaml"), doctest::Contains("c.yaml: name: missing"),
                       Error);
  // Type errors name the type; a list where one value belongs says so.
  CHECK_THROWS_WITH_AS(parse_config("name: t\nshortlist: [100, 1000]\n" + ok, "c.yaml"),
                       doctest::Contains("c.yaml: shortlist: expected an integer, got a list "
                                         "'[100, 1000]' (one value only"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_config("name: t\nthreads: two\n" + ok, "c.yaml"),
                       "c.yaml: threads: expected an integer, got 'two'", Error);
  CHECK_THROWS_WITH_AS(parse_config("name: t\nsplit_seed: -1\n" + ok, "c.yaml"),
                       "c.yaml: split_seed: expected a whole number >= 0, got '-1'", Error);

  CHECK_THROWS_WITH_AS(
      parse_config("name: t\nprotocol: cifar10-1\n" + ok, "c.yaml"),
      "c.yaml: protocol: protocol 'cifar10-1' is defined on cifar10, not fashion-mnist", Error);
  CHECK_THROWS_WITH_AS(parse_config("name: t\nmetrics: {hamming_radius: -1}\n" + ok, "c.yaml"),
                       "c.yaml: metrics.hamming_radius: must be >= 0", Error);
  CHECK_THROWS_WITH_AS(parse_config("name: [", "c.yaml"),
                       doctest::Contains("c.yaml: not valid YAML"), Error);
  CHECK_THROWS_WITH_AS(load_config("/nonexistent/x.yaml"), "cannot open config /nonexistent/x.yaml",
                       Error);
}

TEST_CASE("config: a parameter given as a list is swept as a product") {
  const ExperimentConfig c = parse_config(R"(
name: sweep
hashers:
  - name: dsh
    params: {epochs: [1, 2], batch_size: [50, 100], lr: 0.001}
  - lsh
rerankers: [none]
)",
                                          "s.yaml");
  REQUIRE(c.hashers.size() == 5);
  // Keys in the order written, the last one varying fastest.
  CHECK(c.hashers[0].label() == "dsh(batch_size=50,epochs=1,lr=0.001)");
  CHECK(c.hashers[1].label() == "dsh(batch_size=100,epochs=1,lr=0.001)");
  CHECK(c.hashers[2].label() == "dsh(batch_size=50,epochs=2,lr=0.001)");
  CHECK(c.hashers[3].label() == "dsh(batch_size=100,epochs=2,lr=0.001)");
  CHECK(c.hashers[4].label() == "lsh");
  CHECK_THROWS_WITH_AS(
      parse_config("name: t\nhashers: [{name: dsh, params: {epochs: []}}]\nrerankers: [none]\n",
                   "c.yaml"),
      doctest::Contains("c.yaml: hashers[0].params.epochs: expected a scalar or a non-empty list"),
      Error);
  CHECK_THROWS_WITH_AS(
      parse_config("name: t\nhashers: [{name: dsh, params: {epochs: [[1]]}}]\nrerankers: [none]\n",
                   "c.yaml"),
      doctest::Contains("hashers[0].params.epochs: expected a list of scalars"), Error);
}

TEST_CASE("config: the experiment name stays one folder under output and is valid UTF-8") {
  const std::string rest = "\nhashers: [lsh]\nrerankers: [none]\n";
  for (const std::string bad : {"../../somewhere", "/tmp/abs", "\"\"", "\".\"", "\"..\"", "a/b"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_config("name: " + bad + rest, "n.yaml"),
                         doctest::Contains("n.yaml: name: must be a plain folder name"), Error);
  }
  // A Latin-1 byte, as a config saved in another encoding would hold.
  const std::string latin1 = std::string("name: caf") + static_cast<char>(0xE9);
  CHECK_THROWS_WITH_AS(parse_config(latin1 + rest, "n.yaml"),
                       doctest::Contains("n.yaml: name: is not valid UTF-8"), Error);
  CHECK(parse_config("name: café-1" + rest, "n.yaml").name == "café-1");
}

TEST_CASE("config: a repeated key is an error naming both lines") {
  CHECK_THROWS_WITH_AS(
      parse_config("name: t\nbits: [16]\nhashers: [lsh]\nbits: [32]\nrerankers: [none]\n",
                   "d.yaml"),
      "d.yaml: key 'bits' appears twice, on lines 2 and 4", Error);
  CHECK_THROWS_WITH_AS(parse_config("name: t\nhashers:\n  - name: dsh\n    params:\n"
                                    "      epochs: 3\n      epochs: 5\nrerankers: [none]\n",
                                    "d.yaml"),
                       "d.yaml: key 'epochs' appears twice, on lines 5 and 6", Error);
}

TEST_CASE("config: one training block budgets every deep hasher - a method may override it") {
  const ExperimentConfig c = parse_config(R"(
name: budget
training: {epochs: 12, batch_size: 32, optimiser: sgd, lr: 0.01, lr_schedule: cosine,
           backbone: small-cnn-wide, device: cpu}
hashers:
  - dsh
  - name: dsh
    params: {epochs: 30}
  - lsh
rerankers: [none]
)",
                                          "b.yaml");
  REQUIRE(c.hashers.size() == 3);
  CHECK(c.hashers[0].values().at("epochs") == "12");
  CHECK(c.hashers[0].values().at("optimiser") == "sgd");
  CHECK(c.hashers[0].values().at("lr_schedule") == "cosine");
  CHECK(c.hashers[0].values().at("backbone") == "small-cnn-wide");
  CHECK(c.hashers[0].label() == "dsh");  // the budget is shown apart, not in every label
  CHECK(c.hashers[1].values().at("epochs") == "30");
  CHECK(c.hashers[1].values().at("lr") == "0.01");
  CHECK(c.hashers[2].budget.empty());  // LSH does not train: nothing applies
  const std::string ok = "hashers: [dsh]\nrerankers: [none]\n";
  CHECK_THROWS_WITH_AS(parse_config("name: t\ntraining: {epoch: 3}\n" + ok, "b.yaml"),
                       doctest::Contains("b.yaml: training.epoch: unknown key"), Error);
}

TEST_CASE("config: plugin values are checked when the config is read - before any data") {
  const std::string r = "rerankers: [none]\n";
  CHECK_THROWS_WITH_AS(
      parse_config("name: t\ntraining: {epochs: abc}\nhashers: [dsh]\n" + r, "v.yaml"),
      "v.yaml: hashers[0] dsh: dsh.epochs: expected an integer, got 'abc'", Error);
  CHECK_THROWS_WITH_AS(
      parse_config("name: t\nhashers: [{name: dsh, params: {backbone: vgg}}]\n" + r, "v.yaml"),
      doctest::Contains("v.yaml: hashers[0] dsh(backbone=vgg): unknown backbone 'vgg'"), Error);
  CHECK_THROWS_WITH_AS(
      parse_config("name: t\nhashers: [lsh]\nrerankers: [{name: aqe, params: {n: 0}}]\n", "v.yaml"),
      doctest::Contains("v.yaml: rerankers[0] aqe(n=0)"), Error);
}

TEST_CASE("config: a zip block pairs lists element-wise - crossed with the params sweep") {
  const ExperimentConfig c = parse_config(R"(
name: zip
hashers: [lsh]
rerankers:
  - name: diffusion
    params: {alpha: [0.9, 0.99]}
    zip: {kq: [10, 30, 50], gamma: [1, 3, 5]}
)",
                                          "z.yaml");
  REQUIRE(c.rerankers.size() == 6);
  CHECK(c.rerankers[0].label() == "diffusion(alpha=0.9,gamma=1,kq=10)");
  CHECK(c.rerankers[2].label() == "diffusion(alpha=0.9,gamma=5,kq=50)");
  CHECK(c.rerankers[5].label() == "diffusion(alpha=0.99,gamma=5,kq=50)");
  CHECK_THROWS_WITH_AS(
      parse_config(R"(
name: zip
hashers: [lsh]
rerankers: [{name: diffusion, zip: {kq: [10, 30], gamma: [1]}}]
)",
                   "z.yaml"),
      "z.yaml: rerankers[0].zip: lists of different lengths: kq has 2, gamma has 1", Error);
}
