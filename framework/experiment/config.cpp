#include "framework/experiment/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <type_traits>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/experiment/config_reader.h"
#include "framework/experiment/datasets.h"
#include "framework/hasher.h"
#include "framework/reranker.h"
#include "framework/stage1.h"

namespace hamster {
using config_yaml::Reader;

namespace {

// YAML leaves a repeated key to the reader, and yaml-cpp keeps both: the first wins at the
// top level and the last inside params. Neither is what the author meant; refuse it.
void reject_duplicate_keys(const YAML::Node& node, const std::string& source) {
  if (node.IsSequence())
    for (const auto& item : node) reject_duplicate_keys(item, source);
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const int line = kv.first.Mark().line + 1;
    if (auto [it, fresh] = first_line.emplace(key, line); !fresh)
      throw Error(source + ": key '" + key + "' appears twice, on lines " +
                  std::to_string(it->second) + " and " + std::to_string(line));
    reject_duplicate_keys(kv.second, source);
  }
}

// Valid exactly when the result records, which carry the name, can be written.
bool valid_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

std::string plugin_label(const std::string& name,
                         const std::map<std::string, std::string>& params) {
  if (params.empty()) return name;
  std::string out = name + "(";
  bool first = true;
  for (const auto& [k, v] : params) {
    out += (first ? "" : ",") + k + "=" + v;
    first = false;
  }
  return out + ")";
}

std::string PluginSpec::label() const { return plugin_label(name, params); }

std::map<std::string, std::string> PluginSpec::values() const {
  std::map<std::string, std::string> out = budget;
  for (const auto& [k, v] : params) out[k] = v;
  return out;
}

std::string content_hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

ExperimentConfig parse(const std::string& text, const std::string& source) {
  Reader r{source};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(source + ": not valid YAML: " + e.what());
  }
  reject_duplicate_keys(root, source);
  r.only_keys(root, "", {"name",    "dataset",   "protocol",  "split_seed", "split",
                         "bits",    "seeds",     "shortlist", "threads",    "parallel_fits",
                         "hashers", "rerankers", "metrics",   "output",     "validation_per_class",
                         "queries", "training",  "datasets",  "perturb",    "stage1"});
  ExperimentConfig c;
  c.source = source;
  if (!root["name"]) r.fail("name", "missing (results go to <output>/<name>)");
  c.name = r.scalar<std::string>(root["name"], "name");
  // The name is a folder under `output`: it must stay one, and be valid UTF-8 so that the
  // records that carry it can be written (checked now, not after hours of training).
  if (c.name.empty() || c.name == "." || c.name == ".." ||
      c.name.find_first_of("/\\") != std::string::npos || c.name.find('\0') != std::string::npos)
    r.fail("name",
           "must be a plain folder name (not empty, '.' or '..', no '/'), got '" + c.name + "'");
  if (!valid_utf8(c.name)) r.fail("name", "is not valid UTF-8");
  // One dataset (dataset:, protocol:) or several (datasets: [{name, path, protocol, ...}]):
  // every build and cell is then run on each, and records carry the dataset.
  std::vector<DatasetChoice> choices;
  if (const auto& list = root["datasets"]) {
    if (root["dataset"] || root["protocol"])
      r.fail("datasets", "give either datasets: or dataset:/protocol:, not both");
    if (!list.IsSequence() || list.size() == 0)
      r.fail("datasets", "expected a non-empty list of {name, path, protocol}");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = "datasets[" + std::to_string(i) + "]";
      if (!list[i].IsMap() || !list[i]["name"]) r.fail(where, "expected {name, path, protocol}");
      DatasetChoice d = r.dataset_choice(list[i], list[i]["protocol"], where + ".", true);
      for (const DatasetChoice& other : choices)
        if (other.dataset == d.dataset && other.dataset_path == d.dataset_path &&
            other.protocol == d.protocol)
          r.fail(where, "lists " + d.dataset + " with protocol " + d.protocol + " twice");
      choices.push_back(d);
    }
  } else {
    choices.push_back(r.dataset_choice(root["dataset"], root["protocol"], "", false));
  }
  c.datasets = choices;
  const bool custom = std::any_of(choices.begin(), choices.end(), [](const DatasetChoice& d) {
    return d.protocol == "stratified" || d.protocol == "per-concept";
  });
  {
    const DatasetChoice& d = choices.front();
    c.dataset = d.dataset, c.dataset_path = d.dataset_path, c.image_root = d.image_root;
    c.image_size = d.image_size, c.mosaics = d.mosaics, c.mosaic_seed = d.mosaic_seed;
    c.protocol = d.protocol;
  }
  if (root["split_seed"]) c.split_seed = r.scalar<uint64_t>(root["split_seed"], "split_seed");
  if (const auto& s = root["split"]) {
    r.only_keys(s, "split", {"query_per_class", "train_per_class", "database_includes_train"});
    if (!custom) r.fail("split", "only used with protocol: stratified or per-concept");
    if (s["query_per_class"])
      c.query_per_class = r.scalar<int>(s["query_per_class"], "split.query_per_class");
    if (s["train_per_class"])
      c.train_per_class = r.scalar<int>(s["train_per_class"], "split.train_per_class");
    if (s["database_includes_train"] && c.protocol != "stratified")
      r.fail("split.database_includes_train",
             "only used with protocol: stratified (per-concept databases always include train)");
    if (s["database_includes_train"])
      c.database_includes_train =
          r.scalar<bool>(s["database_includes_train"], "split.database_includes_train");
  }
  if (root["validation_per_class"])
    c.validation_per_class = r.scalar<int>(root["validation_per_class"], "validation_per_class");
  if (c.validation_per_class < 0) r.fail("validation_per_class", "must be >= 0");
  if (root["queries"]) c.queries = r.scalar<std::string>(root["queries"], "queries");
  if (c.queries != "test" && c.queries != "validation")
    r.fail("queries", "expected test or validation, got '" + c.queries + "'");
  if (c.queries == "validation" && c.validation_per_class == 0)
    r.fail("queries", "validation queries need validation_per_class > 0");
  if (root["perturb"]) {
    c.perturbations.clear();
    const auto texts = r.list<std::string>(root["perturb"], "perturb");
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string where = r.source + ": perturb[" + std::to_string(i) + "]";
      c.perturbations.push_back(parse_perturbation(texts[i], where));
      for (size_t j = 0; j < i; ++j)
        if (c.perturbations[j].label() == c.perturbations[i].label())
          throw Error(where + ": '" + texts[i] + "' is listed twice");
    }
  }
  if (root["bits"]) c.bits = r.list<int>(root["bits"], "bits");
  for (int b : c.bits)
    if (b < 1 || b > 1024)
      r.fail("bits", "each code length must be in 1..1024, got " + std::to_string(b));
  if (root["seeds"]) c.seeds = r.list<uint64_t>(root["seeds"], "seeds");
  if (root["shortlist"]) c.shortlist = r.scalar<int64_t>(root["shortlist"], "shortlist");
  if (c.shortlist < 1) r.fail("shortlist", "must be >= 1");
  if (root["stage1"]) {
    c.stage1 = r.scalar<std::string>(root["stage1"], "stage1");
    const std::vector<std::string> known = stage1_names();
    if (std::find(known.begin(), known.end(), c.stage1) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      r.fail("stage1", "unknown search '" + c.stage1 + "' (known: " + list + ")");
    }
  }
  if (root["threads"]) c.threads = r.scalar<int>(root["threads"], "threads");
  if (root["parallel_fits"])
    c.parallel_fits = r.scalar<int>(root["parallel_fits"], "parallel_fits");
  if (c.threads < 1 || c.parallel_fits < 1)
    r.fail("threads", "threads and parallel_fits must be >= 1");
  if (const auto& t = root["training"]) {
    if (!t.IsMap()) r.fail("training", "expected a mapping");
    std::set<std::string> keys;
    for (const ParamSpec& p : training_params()) keys.insert(p.name);
    r.only_keys(t, "training", keys);
    for (const auto& kv : t) {
      const std::string key = r.text(kv.first, "training");
      c.training[key] = r.scalar<std::string>(kv.second, "training." + key);
    }
  }
  c.hashers = r.plugins(root["hashers"], "hashers", HasherRegistry::instance());
  for (PluginSpec& h : c.hashers)
    for (const ParamSpec& p : HasherRegistry::instance().entry(h.name).params)
      if (c.training.count(p.name) && !h.params.count(p.name))
        h.budget[p.name] = c.training.at(p.name);
  c.rerankers = r.plugins(root["rerankers"], "rerankers", RerankerRegistry::instance());
  // Build every plugin once now, so that a bad value (epochs: abc, an unknown backbone, an
  // impossible k) is reported when the config is read, before any data or training.
  for (size_t i = 0; i < c.hashers.size(); ++i)
    for (int bits : c.bits) try {
        HasherRegistry::instance().create(c.hashers[i].name, c.hashers[i].values(), bits);
      } catch (const Error& e) {
        r.fail("hashers[" + std::to_string(i) + "] " + c.hashers[i].label(), e.what());
      }
  for (size_t i = 0; i < c.rerankers.size(); ++i) try {
      RerankerRegistry::instance().create(c.rerankers[i].name, c.rerankers[i].values());
    } catch (const Error& e) {
      r.fail("rerankers[" + std::to_string(i) + "] " + c.rerankers[i].label(), e.what());
    }
  if (const auto& m = root["metrics"]) {
    r.only_keys(m, "metrics", {"map_at", "precision_at", "recall_at", "hamming_radius"});
    if (m["map_at"]) c.eval.map_at = r.ks(m["map_at"], "metrics.map_at");
    if (m["precision_at"]) c.eval.precision_at = r.ks(m["precision_at"], "metrics.precision_at");
    if (m["recall_at"]) c.eval.recall_at = r.ks(m["recall_at"], "metrics.recall_at");
    if (m["hamming_radius"])
      c.eval.hamming_radius = r.scalar<int>(m["hamming_radius"], "metrics.hamming_radius");
    if (c.eval.hamming_radius < 0) r.fail("metrics.hamming_radius", "must be >= 0");
  }
  std::filesystem::path output = "results";
  if (root["output"]) output = r.scalar<std::string>(root["output"], "output");
  c.output_dir = std::filesystem::absolute(output / c.name);
  c.hash = content_hash(YAML::Dump(root));
  return c;
}

}  // namespace

ExperimentConfig parse_config(const std::string& text, const std::string& source) {
  try {
    return parse(text, source);
  } catch (const YAML::Exception& e) {
    // Every key is read through Reader, which names it; this is the net under that rule.
    throw Error(source + ": cannot read the config (" + e.what() + ")");
  }
}

ExperimentConfig for_dataset(const ExperimentConfig& config, size_t i) {
  ExperimentConfig c = config;
  const DatasetChoice& d = config.datasets.at(i);
  c.dataset = d.dataset, c.dataset_path = d.dataset_path, c.image_root = d.image_root;
  c.image_size = d.image_size, c.mosaics = d.mosaics, c.mosaic_seed = d.mosaic_seed;
  c.protocol = d.protocol;
  c.id_prefix = config.datasets.size() > 1 ? c.protocol + "/" : "";
  return c;
}

ExperimentConfig load_config(const std::filesystem::path& file) {
  if (std::filesystem::is_directory(file))
    throw Error("config " + file.string() + " is a directory, expected a YAML file");
  std::ifstream in(file);
  if (!in) throw Error("cannot open config " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), file.string());
}

}  // namespace hamster
