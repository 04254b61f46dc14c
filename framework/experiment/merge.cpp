#include "framework/experiment/merge.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/error.h"
#include "framework/experiment/result_store.h"
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
  std::map<std::string, fs::path> raw_from;                  // raw file -> its folder
  std::string split;
  fs::path split_from;
  for (const fs::path& dir : inputs) {
    const ResultStore store(dir);
    if (!fs::is_regular_file(store.file()))
      throw Error("merge: no results at " + store.file().string());
    if (fs::exists(dir / "split.txt")) {
      const std::string text = read_text(dir / "split.txt");
      if (split_from.empty()) {
        split = text, split_from = dir / "split.txt";
      } else if (text != split) {
        throw Error("merge: " + (dir / "split.txt").string() + " and " + split_from.string() +
                    " hold different splits; these results are not comparable");
      }
    }
    for (json& r : store.read()) {
      const std::string key = r.value("cell_key", "");
      auto it = key.empty() ? where.end() : where.find(key);
      if (it == where.end()) {
        if (!key.empty()) where[key] = {merged.size(), dir};
        if (r.contains("raw")) raw_from[r.at("raw").get<std::string>()] = dir;
        merged.push_back(std::move(r));
        continue;
      }
      // A metric one folder added with `hamster evaluate` is kept; one both hold must agree.
      json& kept = merged[it->second.first];
      for (const auto& [name, value] : r.at("metrics").items()) {
        if (!kept.at("metrics").contains(name)) {
          kept["metrics"][name] = value;
          kept["metric_order"].push_back(name);
        } else if (kept.at("metrics").at(name) != value) {
          throw Error("merge: cell " + r.value("cell", key) + " has different metrics in " +
                      it->second.second.string() + " and " + dir.string() + " (" + name + ")");
        }
      }
    }
  }
  fs::create_directories(out);
  // Raw rankings travel with their records, so the merged folder can be evaluated alone.
  for (const auto& [raw, dir] : raw_from) {
    const fs::path target = out / raw;
    if (fs::exists(target) || !fs::exists(dir / raw)) continue;
    fs::create_directories(target.parent_path());
    fs::path tmp = target;
    tmp += ".tmp";
    fs::copy_file(dir / raw, tmp, fs::copy_options::overwrite_existing);
    fs::rename(tmp, target);
  }
  ResultStore(out).replace(merged);
  if (!split_from.empty()) write_file_atomic(out / "split.txt", split);
  return merged.size();
}

}  // namespace hamster
