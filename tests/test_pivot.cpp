#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/error.h"
#include "framework/experiment/pivot.h"
#include "framework/experiment/record_table.h"
#include "framework/experiment/results.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
using json = nlohmann::json;

namespace {

json record(const std::string& hasher, int bits, uint64_t seed, const std::string& reranker,
            double map) {
  return {
      {"cell", hasher + "/" + std::to_string(bits) + "/" + std::to_string(seed) + "/" + reranker},
      {"hasher", hasher},
      {"hasher_params", json::object()},
      {"bits", bits},
      {"seed", seed},
      {"reranker_label", reranker},
      {"shortlist", 100},
      {"dataset", "fashion-mnist"},
      {"metric_order", {"mAP@all"}},
      {"metrics", {{"mAP@all", map}}}};
}

std::filesystem::path write(const std::vector<json>& records) {
  auto dir = test::fresh_temp_dir("pivot");
  std::ofstream out(dir / "results.jsonl");
  for (const auto& r : records) out << r.dump() << "\n";
  return dir;
}

}  // namespace

TEST_CASE("table pivot: of two records of one cell and seed, the newer one counts") {
  // The same cell run again after a default changed: another cell key, the same label.
  json old_run = record("dsh", 16, 0, "spectral", 0.5),
       new_run = record("dsh", 16, 0, "spectral", 0.7);
  old_run["provenance"] = {{"timestamp", "2026-12-07T20:44:06Z"}};
  new_run["provenance"] = {{"timestamp", "2026-12-08T05:40:00Z"}};
  json other_seed = record("dsh", 16, 1, "spectral", 0.9);
  other_seed["provenance"] = {{"timestamp", "2026-12-07T21:00:00Z"}};
  for (const auto& order : {std::vector<json>{old_run, new_run, other_seed},
                            std::vector<json>{new_run, old_run, other_seed}}) {
    const std::string md = test::unpadded(format_pivot(write(order), PivotSpec{}));
    // Seeds 0 (0.7, not 0.5) and 1 (0.9): mean 0.8, std sqrt(0.02) = 0.1414.
    CHECK(md.find("| dsh | 16 | **0.8000 ± 0.1414** |") != std::string::npos);
    CHECK(md.find("1 older record left out: same cell and seed as a newer one") !=
          std::string::npos);
  }
}

TEST_CASE("table pivot: mean and std over seeds - best of each row or column marked") {
  // dsh 16 none: seeds 0.4 and 0.6 -> mean 0.5, sample std sqrt(0.02) = 0.1414.
  const auto dir =
      write({record("dsh", 16, 0, "none", 0.4), record("dsh", 16, 1, "none", 0.6),
             record("lsh", 16, 0, "none", 0.3), record("lsh", 16, 1, "none", 0.3),
             record("dsh", 16, 0, "feature", 0.7), record("dsh", 16, 1, "feature", 0.8),
             record("lsh", 16, 0, "feature", 0.9)});
  PivotSpec spec;
  const std::string md = test::unpadded(format_pivot(dir, spec));
  // Columns in the order the records first name them: "none" before "feature".
  CHECK(md.find("| hasher | bits | none | feature |") != std::string::npos);
  // Re-rankers as columns: by default the best re-ranker of each row is bold.
  CHECK(md.rfind("mAP@all over seeds (mean ± std); best of each row in bold", 0) == 0);
  CHECK(md.find("| dsh | 16 | 0.5000 ± 0.1414 | **0.7500 ± 0.0707** |") != std::string::npos);
  CHECK(md.find("| lsh | 16 | 0.3000 ± 0.0000 | **0.9000** |") != std::string::npos);
  spec.best = "col";
  const std::string by_col = test::unpadded(format_pivot(dir, spec));
  CHECK(by_col.find("best of each column in bold") != std::string::npos);
  CHECK(by_col.find("| dsh | 16 | **0.5000 ± 0.1414** | 0.7500 ± 0.0707 |") != std::string::npos);
  CHECK(by_col.find("| lsh | 16 | 0.3000 ± 0.0000 | **0.9000** |") != std::string::npos);
  spec.best = "diagonal";
  CHECK_THROWS_WITH_AS(format_pivot(dir, spec), "--best is row or col, got 'diagonal'", Error);
  spec.best = "col";
  spec.format = "latex";
  const std::string tex = format_pivot(dir, spec);
  CHECK(tex.find("\\textbf{0.9000}") != std::string::npos);
  CHECK(tex.find("\\toprule") != std::string::npos);
  // Hasher and bits in columns of their own.
  CHECK(tex.find("\\begin{tabular}{llrr}") != std::string::npos);
  CHECK(tex.find("hasher & bits & none & feature \\\\") != std::string::npos);
  CHECK(tex.find("dsh & 16 & \\textbf{0.5000 $\\pm$ 0.1414} & 0.7500 $\\pm$ 0.0707 \\\\") !=
        std::string::npos);
  spec.format = "csv";
  CHECK(format_pivot(dir, spec).find("dsh,16,0.500000,0.141421,0.750000,0.070711") !=
        std::string::npos);
  // Two equal seeds have std 0; one seed has none (blank).
  CHECK(format_pivot(dir, spec).find("lsh,16,0.300000,0.000000,0.900000,\n") != std::string::npos);
  spec.where = {{"reranker", "none"}};
  CHECK(format_pivot(dir, spec).find("feature") == std::string::npos);
}

TEST_CASE("table pivot: numbers in numeric order - names in the order the config listed them") {
  // As a config writes them: lsh listed before dsh, aqe's n swept 5 then 10; the 64-bit
  // records happen to come first (another shard).
  const auto dir =
      write({record("lsh", 64, 0, "aqe(n=5)", 0.1), record("lsh", 64, 0, "aqe(n=10)", 0.2),
             record("lsh", 128, 0, "aqe(n=5)", 0.3), record("lsh", 16, 0, "aqe(n=5)", 0.4),
             record("dsh", 16, 0, "aqe(n=10)", 0.5)});
  const std::string md = test::unpadded(format_pivot(dir, PivotSpec{}));
  const auto at = [&](const std::string& s) { return md.find(s); };
  CHECK(at("| hasher | bits | aqe(n=5) | aqe(n=10) |") != std::string::npos);
  CHECK(at("| lsh | 16 |") < at("| lsh | 64 |"));
  CHECK(at("| lsh | 64 |") < at("| lsh | 128 |"));
  CHECK(at("| lsh | 128 |") < at("| dsh | 16 |"));
}

TEST_CASE("table pivot: a field varying inside a cell - an unknown field or metric is an error") {
  const auto dir = write({record("dsh", 16, 0, "none", 0.4), record("dsh", 32, 0, "none", 0.6)});
  PivotSpec spec;
  spec.rows = {"hasher"};
  CHECK_THROWS_WITH_AS(format_pivot(dir, spec),
                       doctest::Contains("bits varies inside the cell (dsh, none): '16' and '32'"),
                       Error);
  spec.rows = {"hasher", "colour"};
  CHECK_THROWS_WITH_AS(format_pivot(dir, spec), doctest::Contains("unknown table field 'colour'"),
                       Error);
  spec.rows = {"hasher", "bits"};
  spec.metric = "mAP@7";
  CHECK_THROWS_WITH_AS(format_pivot(dir, spec),
                       doctest::Contains("no record has metric 'mAP@7' (known: mAP@all)"), Error);
}

TEST_CASE("tables: records with fields of the wrong kind are an Error naming the file") {
  // Found by fuzz_results: a first record without metric_order escaped as a json exception
  // when the metric was missing. Seen while fixing it: bits of 1e300 were converted to int
  // (undefined behaviour).
  json bare = record("lsh", 16, 0, "none", 0.5);
  bare.erase("metric_order");
  auto dir = write({bare});
  PivotSpec spec;
  spec.metric = "mAP@7";
  CHECK_THROWS_WITH_AS(format_pivot(dir, spec),
                       doctest::Contains("results.jsonl: no record has metric 'mAP@7' (known: )"),
                       Error);
  json huge = record("lsh", 16, 0, "none", 0.5);
  huge["bits"] = 1e300;
  dir = write({huge});
  CHECK_THROWS_WITH_AS(format_pivot(dir, PivotSpec{}),
                       doctest::Contains("results.jsonl: record lacks a field ([json.exception."
                                         "type_error.302] field 'bits' must be an integer, not "
                                         "number)"),
                       Error);
  CHECK_THROWS_WITH_AS(format_table(dir, "md"),
                       doctest::Contains("field 'bits' must be an integer, not number"), Error);
  json text_seed = record("lsh", 16, 0, "none", 0.5);
  text_seed["seed"] = "zero";
  dir = write({text_seed});
  CHECK_THROWS_WITH_AS(format_table(dir, "csv"),
                       doctest::Contains("field 'seed' must be an integer, not string"), Error);
}

TEST_CASE("the cell table's budget column names what differs from the default training") {
  auto trained = [](const std::string& hasher, json params) {
    json r = record(hasher, 32, 0, "none", 0.8);
    params.update(
        {{"epochs", "120"}, {"batch_size", "64"}, {"optimiser", "adam"}, {"lr", "0.001"}});
    r["hasher_effective_params"] = params;
    r["fit_summary"] = {{"epochs", 120}, {"chosen_epoch", 114}};
    r["times"] = json::object();  // every runner record has them
    return r;
  };
  const auto dir = write(
      {trained("dsh", {{"backbone", "small-cnn"}}),
       trained("dpsh",
               {{"backbone", "vgg-bn"}, {"augment", "flip+shift2"}, {"lr_schedule", "cosine"}}),
       trained("csq", json::object()),  // a record from before backbones
       trained("dsdh", {{"backbone", "vgg-bn"}, {"weight_decay", "0.0005"}, {"dropout", "0.5"}}),
       trained("hashnet", {{"weight_average", "0.999"}})});
  const std::string md = test::unpadded(format_table(dir, "md"));
  CHECK(md.find("| 120x64 adam 0.001 | 114 |") != std::string::npos);
  CHECK(md.find("| 120x64 adam 0.001 cosine flip+shift2 vgg-bn | 114 |") != std::string::npos);
  CHECK(md.find("| 120x64 adam 0.001 vgg-bn wd 0.0005 dropout 0.5 | 114 |") != std::string::npos);
  CHECK(md.find("| 120x64 adam 0.001 avg 0.999 | 114 |") != std::string::npos);
  CHECK(md.find("small-cnn") == std::string::npos);
}

TEST_CASE("LaTeX tables escape what TeX would misprint") {
  CHECK(latex_escape("P@H<=2") == "P@H$<$=2");  // not "P@H¡=2"
  CHECK(latex_escape("mAP@1000 dba(k=10,qe_n=10)") == "mAP@1000 dba(k=10,qe\\_n=10)");
  CHECK(latex_escape("a{b}$c^d~e\\f") == "a\\{b\\}\\$c\\^{}d\\~{}e\\textbackslash{}f");
}
