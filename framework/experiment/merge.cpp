#include "framework/experiment/merge.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/error.h"
#include "framework/experiment/records.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

size_t merge_results(const std::vector<fs::path>& inputs, const fs::path& out) {
  if (inputs.empty()) throw Error("merge: no input folders");
  std::vector<json> merged;
  std::map<std::string, std::pair<size_t, fs::path>> where;  // cell_key -> record, folder
  std::string split;
  fs::path split_from;
  for (const fs::path& dir : inputs) {
    const fs::path file = dir / "results.jsonl";
    if (!fs::is_regular_file(file)) throw Error("merge: no results at " + file.string());
    if (fs::exists(dir / "split.txt")) {
      const std::string text = read_text(dir / "split.txt");
      if (split_from.empty()) {
        split = text, split_from = dir / "split.txt";
      } else if (text != split) {
        throw Error("merge: " + (dir / "split.txt").string() + " and " + split_from.string() +
                    " hold different splits; these results are not comparable");
      }
    }
    for (json& r : latest_records(read_records(file))) {
      const std::string key = r.value("cell_key", "");
      auto it = key.empty() ? where.end() : where.find(key);
      if (it == where.end()) {
        if (!key.empty()) where[key] = {merged.size(), dir};
        merged.push_back(std::move(r));
      } else if (merged[it->second.first].at("metrics") != r.at("metrics")) {
        throw Error("merge: cell " + r.value("cell", key) + " has different metrics in " +
                    it->second.second.string() + " and " + dir.string());
      }
    }
  }
  fs::create_directories(out);
  std::string text;
  for (const json& r : merged) text += r.dump() + "\n";
  write_file_atomic(out / "results.jsonl", text);
  write_file_atomic(out / "results.csv",
                    format_records(merged, "csv", (out / "results.jsonl").string()));
  if (!split_from.empty()) write_file_atomic(out / "split.txt", split);
  return merged.size();
}

}  // namespace hamster
