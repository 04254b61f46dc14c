#pragma once
// An experiment config (YAML): dataset and protocol, hashers x bits x seeds (the builds),
// re-rankers evaluated on every build, metrics. See experiments/configs/quickstart.yaml.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "framework/data/perturb.h"
#include "framework/eval/metrics.h"

namespace hamster {

// "dsh" or "dsh(epochs=5,lr=0.01)": a plugin and the parameters written for it, as tables,
// ids and filters show it (PluginSpec::label, and the records' hasher_label()).
std::string plugin_label(const std::string& name, const std::map<std::string, std::string>& params);

struct PluginSpec {
  std::string name;
  std::map<std::string, std::string> params;  // as written in the config
  // Values from the config's `training:` block for parameters this plugin takes and
  // does not set itself (the shared budget of the deep hashers).
  std::map<std::string, std::string> budget;
  // "dsh" or "dsh(epochs=5)": how the plugin appears in tables and filters (the values
  // written for it; the budget is the same for every hasher and shown apart).
  std::string label() const;
  // What the plugin is built from: its own values over the budget's.
  std::map<std::string, std::string> values() const;
};

// One dataset of the grid and the protocol it is split by.
struct DatasetChoice {
  std::string dataset = "fashion-mnist";
  std::string dataset_path;
  std::string image_root;
  int image_size = 32;
  int64_t mosaics = 20000;
  uint64_t mosaic_seed = 0;
  std::string protocol = "fmnist-1";
};

struct ExperimentConfig {
  std::string name;
  // Every dataset of the grid (`datasets:`, or the one `dataset:`/`protocol:`). The fields
  // below up to `protocol` are the one being run (for_dataset() sets them).
  std::vector<DatasetChoice> datasets = {DatasetChoice{}};
  std::string dataset = "fashion-mnist";  // a name of dataset_specs() (experiment/datasets.h)
  std::string dataset_path;               // empty: the dataset's default location
  // Options only some datasets take (dataset.<key> in the config; datasets.cpp says which).
  std::string image_root;    // nuswide: where relative image paths start (empty: list's folder)
  int image_size = 32;       // nuswide: images are resized to image_size x image_size
  int64_t mosaics = 20000;   // fmnist-mosaic: how many mosaics
  uint64_t mosaic_seed = 0;  // fmnist-mosaic: the draw of their tiles
  // A docs/protocol.md name, "stratified" (single-label) or "per-concept" (multi-label) with the
  // counts below; when the config names none, the dataset's first protocol.
  std::string protocol = "fmnist-1";
  // With several datasets, build and cell ids start with "<protocol>/" and the split is
  // saved as split-<protocol>.txt; empty with one dataset.
  std::string id_prefix;
  int query_per_class = 100, train_per_class = 500;  // protocols stratified and per-concept
  bool database_includes_train = true;               // protocol "stratified" only
  uint64_t split_seed = 0;
  // Training items per class set aside as a validation split (0: none). Hashers train on
  // the rest; `queries: validation` then evaluates every cell with the validation items as
  // queries against the database without them, for tuning without looking at the queries.
  int validation_per_class = 0;
  std::string queries = "test";  // test | validation
  // The `perturb:` list: each cell is evaluated once per entry, with the query images
  // degraded that way (framework/data/perturb.h); the database and training never are.
  std::vector<Perturbation> perturbations = {Perturbation{}};
  std::vector<int> bits = {16, 32, 64};
  std::vector<uint64_t> seeds = {0};
  int64_t shortlist = 1000;  // L: items a re-ranker reorders
  // The stage-1 search (framework/stage1.h). Every one is exact, so it changes times only
  // and is in no cell's key.
  std::string stage1 = "automatic";
  int threads = 2;
  int parallel_fits = 2;  // trainings run side by side, each on threads/parallel_fits
  // The `training:` block: epochs, batch_size, optimiser, lr, weight_decay, select_every,
  // augment
  // for every deep hasher, unless a hasher's own params override them.
  std::map<std::string, std::string> training;
  std::vector<PluginSpec> hashers;
  std::vector<PluginSpec> rerankers;
  EvalOptions eval;
  std::filesystem::path output_dir;  // results/<name>
  std::string hash;                  // content hash of the whole config
  std::string source;                // the config file (or text) it was read from, for errors
};

// Reads and validates a config: unknown keys, unknown plugins or parameters, bad values
// each give one Error naming the file and the key. Relative output paths are resolved
// against the current directory.
ExperimentConfig load_config(const std::filesystem::path& file);
ExperimentConfig parse_config(const std::string& yaml_text, const std::string& source);

// The config narrowed to datasets[i] (dataset, path, protocol and id prefix set).
ExperimentConfig for_dataset(const ExperimentConfig& config, size_t i);

// 64-bit FNV-1a as 16 hex digits: content hashes for configs and cache keys.
std::string content_hash(const std::string& text);

}  // namespace hamster
