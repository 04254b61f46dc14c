// CellRecord, the typed result record: every field to JSON and back, older records read as
// schema version 1, newer ones refused with the file and line. (A record written by a real
// run round-trips in test_runner.cpp.)
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/error.h"
#include "framework/experiment/cell_record.h"
#include "framework/experiment/result_store.h"
#include "tests/synthetic.h"

using namespace hamster;
using json = nlohmann::json;

TEST_CASE("cell record: every field survives JSON and back") {
  // tests/data/cell_record.json holds every field of the schema, each with a value that no
  // default and no other field holds: a field that to_json or cell_record_from_json drops
  // makes the round trip differ. (The fuzz corpus' records are made from it too.)
  std::ifstream in(std::filesystem::path(HAMSTER_SOURCE_DIR) / "tests/data/cell_record.json");
  REQUIRE(in);
  const json full = json::parse(in);
  const CellRecord r = cell_record_from_json(full);
  CHECK(to_json(r) == full);
  // Typed: the values land in their fields, metrics in their configured order (a JSON
  // object would sort them).
  CHECK(r.schema_version == CellRecord::kSchemaVersion);
  CHECK(r.bits == 32);
  CHECK(r.seed == 3);
  CHECK(r.hasher_params.at("epochs") == "5");
  CHECK(r.stage1_ran == "distinct");
  CHECK(r.metrics ==
        std::vector<std::pair<std::string, double>>{{"mAP@all", 0.25}, {"P@100", 0.5}});
  CHECK(r.code_diagnostics.bit_balance == 0.2);
  CHECK(r.code_diagnostics.distinct_codes == 14);
  CHECK(r.times.fit_threads == 2);
  CHECK(r.times.rerank_us_per_query == 6.5);
  REQUIRE(r.artefacts.size() == 1);
  CHECK(r.artefacts[0].from_disk);
  CHECK(r.provenance.hamming_kernel == "avx512");
  CHECK(r.provenance.git_dirty);
  // The codes' diagnostics are written as "code_diagnostics", the key every reader uses
  // (the notebook once read "diagnostics" and showed empty columns).
  CellRecord edited = r;
  edited.code_diagnostics.bit_correlation = 0.75;
  CHECK(to_json(edited).at("code_diagnostics").at("bit_correlation") == 0.75);
}

TEST_CASE("cell record: an older record reads as schema 1 - a newer one is refused") {
  // As an older hamster wrote it: no schema_version, stage1, raw or provenance details.
  const json old = {{"cell_key", "a"},
                    {"cell", "lsh/16b/seed0/none"},
                    {"hasher", "lsh"},
                    {"bits", 16},
                    {"seed", 0},
                    {"reranker", "none"},
                    {"metrics", {{"P@10", 0.5}, {"mAP@all", 0.25}}},
                    {"metric_order", {"mAP@all"}}};
  const CellRecord r = cell_record_from_json(old);
  CHECK(r.schema_version == 1);
  CHECK(r.reranker_label == "none");
  CHECK(r.stage1_ran.empty());
  // The order names mAP@all; P@10, which it does not name, follows.
  CHECK(r.metrics == std::vector<std::pair<std::string, double>>{{"mAP@all", 0.25}, {"P@10", 0.5}});
  REQUIRE(r.metric("P@10"));
  CHECK(*r.metric("P@10") == 0.5);
  CHECK(r.metric("P@100") == nullptr);

  json missing = old;
  missing.erase("bits");
  CHECK_THROWS_AS(cell_record_from_json(missing), json::exception);
  json newer = old;
  newer["schema_version"] = CellRecord::kSchemaVersion + 1;
  CHECK_THROWS_WITH_AS(cell_record_from_json(newer),
                       doctest::Contains("is newer than this hamster reads"), Error);

  json not_a_number = old;
  not_a_number["schema_version"] = "x";
  CHECK_THROWS_WITH_AS(cell_record_from_json(not_a_number),
                       "record schema_version: expected a whole number >= 1, got \"x\"", Error);

  // JSON has no NaN: a diverged fit's NaN diagnostics are written null and read back NaN.
  CellRecord diverged = cell_record_from_json(old);
  diverged.code_diagnostics.quantization_error = std::nan("");
  const json written = json::parse(to_json(diverged).dump());
  CHECK(written.at("code_diagnostics").at("quantization_error").is_null());
  CHECK(std::isnan(cell_record_from_json(written).code_diagnostics.quantization_error));

  // Through the store: the file and line, or the file and cell.
  const auto dir = test::fresh_temp_dir("cell-record-store");
  const ResultStore store(dir);
  store.append(cell_record_from_json(old));
  std::ofstream(store.file(), std::ios::app) << newer.dump() << "\n";
  const std::string newer_line =
      "results.jsonl:2: record schema_version " + std::to_string(CellRecord::kSchemaVersion + 1);
  CHECK_THROWS_WITH_AS(store.read(), doctest::Contains(newer_line.c_str()), Error);
  std::ofstream(store.file()) << not_a_number.dump() << "\n";
  CHECK_THROWS_WITH_AS(
      store.read(), doctest::Contains("results.jsonl:1: record schema_version: expected"), Error);
  json wrong = old;
  wrong["bits"] = "sixteen";
  std::ofstream(store.file()) << wrong.dump() << "\n";
  CHECK_THROWS_WITH_AS(store.cells(), doctest::Contains("record of cell lsh/16b/seed0/none"),
                       Error);
  std::ofstream(store.file()) << old.dump() << "\n";
  REQUIRE(store.cells().size() == 1);
  CHECK(store.cells()[0].cell == "lsh/16b/seed0/none");
  std::filesystem::remove_all(dir);
}
