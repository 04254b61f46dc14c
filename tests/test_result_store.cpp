// ResultStore, the one owner of results.jsonl: the last record of a cell counts, records
// are appended, a rewrite compacts, and bad files are errors naming the file and line.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/error.h"
#include "framework/experiment/result_store.h"
#include "tests/synthetic.h"

using namespace hamster;
using json = nlohmann::json;

namespace {

CellRecord cell_record(const std::string& key, double map) {
  return cell_record_from_json({{"cell_key", key},
                                {"cell", "lsh/16b/seed0/" + key},
                                {"hasher", "lsh"},
                                {"hasher_params", json::object()},
                                {"bits", 16},
                                {"seed", 0},
                                {"reranker", key},
                                {"reranker_label", key},
                                {"shortlist", 100},
                                {"dataset", "fashion-mnist"},
                                {"metric_order", {"mAP@all"}},
                                {"metrics", {{"mAP@all", map}}},
                                {"times", {{"rerank_us_per_query", 1.5}}}});
}

size_t lines_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

}  // namespace

TEST_CASE("result store: a redone cell's last record counts, in file order") {
  const auto dir = test::fresh_temp_dir("store-latest");
  const ResultStore store(dir);
  CHECK_FALSE(store.exists());
  CHECK(store.by_cell_key().empty());  // no file yet: no records, not an error
  CHECK_THROWS_WITH_AS(store.read(), doctest::Contains("no results at"), Error);
  store.append(cell_record("none", 0.5));
  store.append(cell_record("feature", 0.6));
  store.append(cell_record("none", 0.7));  // redone
  CHECK(lines_of(store.file()) == 3);
  const std::vector<json> records = store.read();
  REQUIRE(records.size() == 2);
  CHECK(records[0]["cell_key"] == "feature");
  CHECK(records[1]["metrics"]["mAP@all"] == 0.7);
  const auto by_key = store.by_cell_key();
  REQUIRE(by_key.size() == 2);
  CHECK(by_key.at("none")["metrics"]["mAP@all"] == 0.7);

  // A rewrite that changes nothing still drops the stale record, and derives results.csv.
  bool edited = false;
  store.rewrite([&](std::vector<json>& list) {
    edited = list.size() == 2;
    return false;
  });
  CHECK(edited);
  CHECK(lines_of(store.file()) == 2);
  CHECK(std::filesystem::exists(dir / "results.csv"));
  // An edit is written.
  store.rewrite([](std::vector<json>& list) {
    list[0]["metrics"]["mAP@all"] = 0.1;
    return true;
  });
  CHECK(store.read()[0]["metrics"]["mAP@all"] == 0.1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("result store: a corrupt line or a record without a cell key is named") {
  const auto dir = test::fresh_temp_dir("store-corrupt");
  const ResultStore store(dir);
  store.append(cell_record("none", 0.5));
  {
    std::ofstream out(store.file(), std::ios::app);
    out << "{\"cell_key\": \"feature\", \"metr\n";  // a line cut short by a crash
  }
  CHECK_THROWS_WITH_AS(store.read(), doctest::Contains("results.jsonl:2: corrupt result record"),
                       Error);
  std::ofstream(store.file()) << "{\"cell\": \"x\"}\n";
  CHECK_THROWS_WITH_AS(store.by_cell_key(), doctest::Contains("a record has no cell_key"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("result store: a folder given as the file is refused, not read as empty") {
  const auto dir = test::fresh_temp_dir("store-dir");
  std::filesystem::create_directories(dir / "results.jsonl");
  CHECK_THROWS_WITH_AS(ResultStore(dir).read(),
                       doctest::Contains("is a directory, expected a results.jsonl file"), Error);
  std::filesystem::remove_all(dir);
}
