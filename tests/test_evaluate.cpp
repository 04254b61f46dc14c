// Raw per-cell rankings and `hamster evaluate`: metrics recomputed or added from them
// without re-running, equal to the runner's to the last bit.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/data/loaders.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/experiment/evaluate.h"
#include "framework/experiment/raw_results.h"
#include "framework/experiment/runner.h"
#include "tests/helpers.h"
#include "tests/run_command.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// LSH (no training) on a tiny Fashion-MNIST-format dataset: 50 queries, 550 database
// items, two re-rankers (none, feature); run once, so both cells are computed.
ExperimentConfig ran_lsh_experiment(const fs::path& root, int64_t shortlist) {
  test::write_fashion_mnist_dir(test::synthetic_images(60, 10, 9), 500, root / "data");
  const std::string yaml = fmt::format(
      "name: tiny\ndataset: {{name: fashion-mnist, path: {}}}\nprotocol: stratified\n"
      "split: {{query_per_class: 5, train_per_class: 20}}\nbits: [16]\nshortlist: {}\n"
      "hashers: [lsh]\nrerankers: [none, feature]\n"
      "metrics: {{map_at: [all, 100], precision_at: [10], recall_at: [100]}}\noutput: {}\n",
      (root / "data").string(), shortlist, (root / "results").string());
  ExperimentConfig c = parse_config(yaml, "tiny.yaml");
  std::ostringstream log;
  CHECK(run_experiment(c, {}, log) == 2);
  return c;
}

std::vector<json> records(const fs::path& dir) {
  std::vector<json> out;
  std::ifstream in(dir / "results.jsonl");
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

using test::run_command;

}  // namespace

TEST_CASE("raw results: round trip - and a wrong or cut file is named") {
  const fs::path root = test::fresh_temp_dir("raw-results");
  RawResults raw{{7, 3}, 3, {1, 2, 3, 40, 50, 60}};
  write_raw_results(root / "raw" / "a.bin.gz", raw);
  const RawResults back = read_raw_results(root / "raw" / "a.bin.gz");
  CHECK(back.query_items == raw.query_items);
  CHECK(back.top == 3);
  CHECK(back.ranked == raw.ranked);
  CHECK(back.row(1)[2] == 60);
  // Plain gzip: the header and the first ids as documented in raw_results.h.
  CHECK(run_command("gzip -dc " + (root / "raw" / "a.bin.gz").string() + " | head -c 4") == "HRAW");

  CHECK_THROWS_WITH_AS(write_raw_results(root / "b.bin.gz", RawResults{{1}, 2, {5}}),
                       doctest::Contains("raw results hold 1 items for 1 queries x L = 2"), Error);
  std::ofstream(root / "not.bin.gz") << "hello, world, this is text";
  CHECK_THROWS_WITH_AS(read_raw_results(root / "not.bin.gz"),
                       doctest::Contains("not.bin.gz: not a hamster raw results file"), Error);
  // Cut the uncompressed data short: the sizes in the header no longer add up.
  run_command("gzip -dc " + (root / "raw" / "a.bin.gz").string() + " | head -c 30 | gzip > " +
              (root / "cut.bin.gz").string());
  CHECK_THROWS_WITH_AS(
      read_raw_results(root / "cut.bin.gz"),
      doctest::Contains("truncated or oversized: 2 queries x L = 3 need 48 bytes, found 30"),
      Error);
  CHECK_THROWS_WITH_AS(read_raw_results(root / "missing.bin.gz"),
                       doctest::Contains("missing.bin.gz: raw results not found"), Error);
  fs::remove_all(root);
}

TEST_CASE("split file: load_split reads what save_split wrote - bad lines are named") {
  const fs::path root = test::fresh_temp_dir("split-file");
  Split split{"fmnist-1", 4, {3, 9}, {1, 2}, {0, 1, 2, 5}, {2}};
  save_split(split, root / "split.txt");
  const Split back = load_split(root / "split.txt");
  CHECK(back.protocol == "fmnist-1");
  CHECK(back.seed == 4);
  CHECK(back.query == split.query);
  CHECK(back.train == split.train);
  CHECK(back.database == split.database);
  CHECK(back.validation == split.validation);
  std::ofstream(root / "bad.txt") << "protocol x\nquery 1 2\ndatabase 3 x4\n";
  CHECK_THROWS_WITH_AS(load_split(root / "bad.txt"),
                       doctest::Contains("bad.txt':3: database: 'x4' is not an item index"), Error);
  std::ofstream(root / "short.txt") << "protocol x\nquery 1 2\n";
  CHECK_THROWS_WITH_AS(load_split(root / "short.txt"), doctest::Contains("no database line"),
                       Error);
  fs::remove_all(root);
}

TEST_CASE("runner: each cell stores its final top-L items - metric names are not its identity") {
  const fs::path root = test::fresh_temp_dir("raw-runner");
  ExperimentConfig c = ran_lsh_experiment(root, 100);
  const auto rs = records(c.output_dir);
  REQUIRE(rs.size() == 2);
  const Dataset data = load_fashion_mnist(root / "data");
  const Split split = load_split(c.output_dir / "split.txt");
  for (const json& r : rs) {
    CHECK(r["split_file"] == "split.txt");
    // The stage-1 search as configured, and the path it took (50 queries: too few to pay
    // for collecting distinct codes).
    CHECK(r["stage1"] == json{{"search", "automatic"}, {"ran", "scan"}});
    CHECK(r["raw"] == "raw/" + r["cell_key"].get<std::string>() + ".bin.gz");
    const RawResults raw = read_raw_results(c.output_dir / r["raw"].get<std::string>());
    REQUIRE(raw.queries() == 50);
    CHECK(raw.top == 100);
    CHECK(std::vector<int64_t>(raw.query_items.begin(), raw.query_items.end()) == split.query);
    // P@10 from the stored items and the dataset's labels, computed here by hand.
    double sum = 0;
    for (int64_t q = 0; q < raw.queries(); ++q) {
      int hits = 0;
      for (int i = 0; i < 10; ++i)
        hits += data.single_label(raw.row(q)[i]) == data.single_label(raw.query_items[q]);
      sum += hits / 10.0;
    }
    CHECK(sum / 50 == doctest::Approx(r["metrics"]["P@10"].get<double>()).epsilon(1e-12));
  }
  // The re-ranker reorders the same 100 items.
  const RawResults none = read_raw_results(c.output_dir / rs[0]["raw"].get<std::string>());
  const RawResults feature = read_raw_results(c.output_dir / rs[1]["raw"].get<std::string>());
  CHECK(none.ranked != feature.ranked);
  std::vector<int32_t> a(none.row(0), none.row(0) + 100), b(feature.row(0), feature.row(0) + 100);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  CHECK(a == b);

  // A metric added to the config re-runs no cell; the run says how to add it.
  c.eval.precision_at = {10, 5};
  std::ostringstream again;
  CHECK(run_experiment(c, {}, again) == 0);
  CHECK(again.str().find("2 finished cells lack P@5: `hamster evaluate") != std::string::npos);
  // One past the shortlist (L = 100) cannot come from the stored top 100: the run says so,
  // and says which advice fits which metric.
  c.eval.precision_at = {10, 5, 500};
  std::ostringstream beyond;
  CHECK(run_experiment(c, {}, beyond) == 0);
  CHECK(beyond.str().find("note: P@500 reaches beyond the shortlist (L = 100)") !=
        std::string::npos);
  CHECK(beyond.str().find("2 finished cells lack P@5: `hamster evaluate") != std::string::npos);
  CHECK(beyond.str().find("2 finished cells lack P@500, which rank past the stored top L = 100: "
                          "only re-running those cells adds them") != std::string::npos);
  fs::remove_all(root);
}

TEST_CASE("runner: records keyed before raw results existed still count as their cells") {
  const fs::path root = test::fresh_temp_dir("raw-legacy");
  ExperimentConfig c = ran_lsh_experiment(root, 100);
  const std::string key_today = records(c.output_dir)[0]["cell_key"];
  // Rewrite the records as the runner keyed them before: metric names inside the key.
  std::string text;
  std::vector<std::string> legacy;
  for (json r : records(c.output_dir)) {
    std::string params;
    for (const auto& [k, v] : r["reranker_effective_params"].items())
      params += "|" + k + "=" + v.get<std::string>();
    r["cell_key"] = content_hash(r["provenance"]["build_key"].get<std::string>() + "|" +
                                 r["reranker"].get<std::string>() +
                                 "|100|mAP@all,mAP@100,P@10,R@100,tie-mAP,P@H<=2," + params);
    legacy.push_back(r["cell_key"]);
    r.erase("raw");
    text += r.dump() + "\n";
  }
  std::ofstream(c.output_dir / "results.jsonl") << text;
  std::ostringstream again;
  CHECK(run_experiment(c, {}, again) == 0);
  // A new re-ranker runs alone; the old records are compacted under today's keys, once.
  c.rerankers.push_back({"asymmetric", {}, {}});
  CHECK(run_experiment(c, {}, again) == 1);
  const auto rs = records(c.output_dir);
  REQUIRE(rs.size() == 3);
  CHECK(rs[0]["cell_key"] != legacy[0]);
  CHECK(rs[0]["cell_key"] == key_today);
  CHECK(rs[0]["metrics"] == json::parse(text.substr(0, text.find('\n')))["metrics"]);
  // Without raw results evaluate cannot recompute them, and says so.
  std::ostringstream out;
  CHECK_THROWS_WITH_AS(
      evaluate_results(c.output_dir, {}, out),
      doctest::Contains("cell lsh/16b/seed0/none: no raw results (written before hamster stored "
                        "them); run its config again with --force"),
      Error);
  fs::remove_all(root);
}

TEST_CASE("evaluate: adds a metric from the stored rankings - same numbers - nothing retrained") {
  const fs::path root = test::fresh_temp_dir("evaluate");
  const ExperimentConfig c = ran_lsh_experiment(root, 100);
  const auto before = records(c.output_dir);
  std::vector<fs::file_time_type> cache_times;
  for (const auto& f : fs::recursive_directory_iterator(c.output_dir / "cache"))
    cache_times.push_back(fs::last_write_time(f));
  REQUIRE(!cache_times.empty());

  // Through the command line: two new metrics, the existing ones recomputed.
  const std::string table = test::unpadded(
      run_command(fmt::format("{} evaluate {} --metrics 'precision_at=5;map_at=100,20' 2>&1",
                              HAMSTER_BINARY, c.output_dir.string())));
  CHECK(table.find("2 cells from their stored top-L rankings; computed P@5, mAP@100, mAP@20; "
                   "0 stored values changed") != std::string::npos);
  CHECK(table.find("| mAP@all | mAP@100 | mAP@20 | P@10 | P@5 | R@100 | tie-mAP | P@H<=2 |") !=
        std::string::npos);
  const auto after = records(c.output_dir);
  REQUIRE(after.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    for (const auto& [name, value] : before[i]["metrics"].items())
      CHECK(after[i]["metrics"][name] == value);  // bit for bit
    CHECK(after[i]["pr_curve"] == before[i]["pr_curve"]);
    const double p5 = after[i]["metrics"]["P@5"].get<double>();
    CHECK(p5 > 0.1);
    CHECK(p5 <= 1.0);
    CHECK(after[i]["evaluated"]["metrics"].size() == 3);
  }
  // Re-ranking by features lifts precision at the top over the Hamming order.
  CHECK(after[1]["metrics"]["P@5"].get<double>() > after[0]["metrics"]["P@5"].get<double>());
  size_t i = 0;
  for (const auto& f : fs::recursive_directory_iterator(c.output_dir / "cache"))
    CHECK(fs::last_write_time(f) == cache_times.at(i++));
  std::ifstream csv(c.output_dir / "results.csv");
  std::string header;
  std::getline(csv, header);
  CHECK(header.find("mAP@100,mAP@20,P@10,P@5,R@100,tie-mAP") != std::string::npos);

  // Without --metrics: every metric the top L allows is recomputed, the rest kept.
  std::ostringstream out;
  CHECK(evaluate_results(c.output_dir, {}, out) == 2);
  CHECK(out.str().find("computed P@10, P@5, R@100, mAP@100, mAP@20; kept as stored (they need "
                       "more than the top L): P@H<=2, mAP@all, tie-mAP; 0 stored values "
                       "changed") != std::string::npos);

  // mAP@all needs the ranking to the end of the database: a clear error, nothing written.
  const std::string text_before = records(c.output_dir)[0].dump();
  MetricRequest all;
  all.map_at = {kAll};
  CHECK_THROWS_WITH_AS(
      evaluate_results(c.output_dir, all, out),
      doctest::Contains("cell lsh/16b/seed0/none: mAP@all needs the ranking to rank 550 but the "
                        "raw results keep the top L = 100 (of 550 database items)"),
      Error);
  CHECK(records(c.output_dir)[0].dump() == text_before);
  CHECK_THROWS_WITH_AS(parse_metric_request("map_at=all;precisoin_at=5"),
                       "--metrics: 'precisoin_at=5' is not key=k1,k2 with key map_at, "
                       "precision_at or recall_at",
                       Error);
  CHECK_THROWS_WITH_AS(parse_metric_request("precision_at=0"),
                       "--metrics: precision_at: expected a positive integer or 'all', got '0'",
                       Error);
  // A raw file that belongs to another split is refused, not scored.
  const RawResults raw = read_raw_results(c.output_dir / before[0]["raw"].get<std::string>());
  RawResults other = raw;
  other.query_items[3] = other.query_items[3] + 1;
  write_raw_results(c.output_dir / before[0]["raw"].get<std::string>(), other);
  CHECK_THROWS_WITH_AS(evaluate_results(c.output_dir, {}, out),
                       doctest::Contains("query 3 is item"), Error);
  fs::remove_all(root);
}

TEST_CASE("evaluate: with L = the database size mAP@all is recomputed - to the last bit") {
  const fs::path root = test::fresh_temp_dir("evaluate-all");
  const ExperimentConfig c = ran_lsh_experiment(root, 550);
  const auto before = records(c.output_dir);
  MetricRequest all;
  all.map_at = {kAll};
  all.recall_at = {550};
  std::ostringstream out;
  CHECK(evaluate_results(c.output_dir, all, out) == 2);
  CHECK(out.str().find("computed R@550, mAP@all; 0 stored values changed") != std::string::npos);
  const auto after = records(c.output_dir);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(after[i]["metrics"]["mAP@all"] == before[i]["metrics"]["mAP@all"]);
    CHECK(after[i]["metrics"]["R@550"].get<double>() == 1.0);  // everything retrieved
  }
  fs::remove_all(root);
}
