#pragma once
// One evaluated cell as a typed value: what `hamster run` writes as one line of
// results.jsonl (through ResultStore) and what the readers find there. The field names are
// the record's JSON keys; docs/guide.md and notebooks/hamster_records.py read the same
// schema. Maps whose keys belong to a plugin (its parameters, its fit summary, its
// diagnostics) stay JSON objects: the schema does not know them.
//
// schema_version: records written before it existed read as version 1, which they are; a
// record newer than this hamster is refused, since its fields may mean something else.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "framework/codes/diagnostics.h"

namespace hamster {

struct CellRecord {
  static constexpr int kSchemaVersion = 1;
  int schema_version = kSchemaVersion;

  // Identity: the grid's cell and the run it belongs to.
  std::string cell_key;  // content hash (framework/experiment/grid.h)
  std::string cell;      // "dsh/32b/seed0/feature"
  std::string experiment, dataset, protocol;
  std::string queries_from = "test";  // test or validation
  uint64_t split_seed = 0;
  int64_t queries = 0, database = 0;
  std::string perturb = "none";

  // The build: hasher x bits x seed.
  std::string hasher;
  std::map<std::string, std::string> hasher_params, hasher_budget, hasher_effective_params;
  nlohmann::json fit_summary = nlohmann::json::object();
  int bits = 0;
  uint64_t seed = 0;

  // The re-ranker and stage 1.
  std::string reranker, reranker_label;
  std::map<std::string, std::string> reranker_params, reranker_effective_params;
  nlohmann::json reranker_diagnostics = nlohmann::json::object();
  int64_t shortlist = 0;
  std::string stage1_search, stage1_ran;  // as configured, and the search that ran

  // Where the cell's data lives, relative to the results folder or absolute.
  std::string raw, split_file;
  nlohmann::json dataset_source = nlohmann::json::object();  // {path, options}

  // Accuracy: metrics in the order they were configured (metric_order in JSON).
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<double> radius_precision, radius_recall;  // pr_curve, Hamming radius 0..bits
  CodeDiagnostics code_diagnostics;                     // of the database codes

  struct Times {
    double train_seconds = 0, train_images_per_second = 0;
    int fit_threads = 0;
    double encode_images_per_second = 0, stage1_us_per_query = 0, stage1_evaluation_seconds = 0,
           rerank_us_per_query = 0, prepare_seconds = 0, artefact_seconds = 0;
  } times;

  struct Artefact {  // a shared artefact the cell's re-ranker asked for
    std::string key;
    double seconds = 0;
    bool from_disk = false;
  };
  std::vector<Artefact> artefacts;

  struct Provenance {
    std::string git_sha;
    bool git_dirty = false;
    std::string config_hash, build_key, versions;
    int threads = 0;
    std::string host, cpu_model, cpu_flags, hamming_kernel, timestamp;
  } provenance;

  // The metric's value, or nullptr when the cell has no such metric.
  const double* metric(const std::string& name) const;
};

nlohmann::json to_json(const CellRecord& r);

// A record's schema_version: 1 when it has none; throws Error when it is not a whole number
// >= 1, or newer than CellRecord::kSchemaVersion.
int schema_version_of(const nlohmann::json& record);

// The record's hasher as tables show it: "dsh(epochs=20)", its name and the parameters
// written for it (plugin_label). Throws nlohmann::json::exception when the record lacks them.
std::string hasher_label(const nlohmann::json& record);
// Throws nlohmann::json::exception for a missing identity field (cell_key, cell, hasher,
// bits, seed, reranker, metrics) or a field of the wrong type, and Error for a schema
// version newer than this hamster reads; the caller names the file and line.
CellRecord cell_record_from_json(const nlohmann::json& j);

}  // namespace hamster
