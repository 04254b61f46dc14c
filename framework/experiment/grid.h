#pragma once
// The grid of an experiment config: its builds (hasher x bits x seed: one trained model
// each, keyed by a content hash of everything the model depends on) and its cells (build x
// perturbation x re-ranker: one evaluated ranking each), and the --filter that picks some.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "framework/experiment/config.h"

namespace hamster {

// One trained hasher: (hasher, bits, seed) on this dataset and split.
struct Build {
  const PluginSpec* hasher;
  int bits;
  uint64_t seed;
  std::string id;        // "dsh/32b/seed0", shown to users and matched by --filter
  std::string key;       // content hash of everything the trained model depends on
  std::string protocol;  // the dataset's split protocol, e.g. fmnist-1
  std::filesystem::path cache_dir() const { return "cache/" + key; }
};

struct Cell {
  const Build* build;
  const PluginSpec* reranker;
  std::string id;   // "dsh/32b/seed0/feature", "dsh/32b/seed0/noise=0.2/feature"
  std::string key;  // content hash: build key + re-ranker + shortlist (+ query set, perturbation)
  // The key of records written before raw results were stored, when the metric names were
  // part of it: such a record still counts as this cell's, so an old folder is not re-run.
  std::string legacy_key;
  const Perturbation* perturb;  // of the queries
};

// Threads of one fit: fixed by the config alone, never by how many fits happen to be
// pending, so that a resumed run trains the same codes.
int fit_threads(const ExperimentConfig& c);

// In the config's order; an error names two builds (or cells) that are the same.
std::vector<Build> make_builds(const ExperimentConfig& c);
// A cell's identity is what its ranking depends on. The metrics are not part of it: they
// are computed from the stored ranking (raw/), and `hamster evaluate` adds new ones.
std::vector<Cell> make_cells(const ExperimentConfig& c, const std::vector<Build>& builds);

// One dataset's grid, built once per run: its builds and its cells, which point into the
// builds (and into the config, which must outlive it). Moved, never copied, so the
// pointers stay valid.
struct Grid {
  std::vector<Build> builds;
  std::vector<Cell> cells;
  explicit Grid(const ExperimentConfig& c) : builds(make_builds(c)), cells(make_cells(c, builds)) {}
  Grid(Grid&&) = default;
  Grid& operator=(Grid&&) = default;
  Grid(const Grid&) = delete;
  Grid& operator=(const Grid&) = delete;
};

// --filter: "key=value" terms joined by commas (hasher, bits, seed, reranker, protocol,
// perturb; a plugin matches by name or by its full label), all of which must hold; or, when
// the filter does not start with such a term, plain text the cell id must contain (ids hold
// '=' too: "dsh(epochs=20)/32b/..."). Commas inside a label's parentheses belong to the label.
// Parsed once per run.
class CellFilter {
 public:
  explicit CellFilter(const std::string& text);
  bool matches(const Cell& cell) const;
  // For `hamster export`, which chooses builds: re-ranker and perturbation terms do not apply.
  bool matches(const Build& b) const;

 private:
  inline static const std::set<std::string> kKeys = {"hasher",   "bits",     "seed",
                                                     "reranker", "protocol", "perturb"};
  static bool build_term_holds(const Build& b, const std::string& key, const std::string& value);

  std::string text_;
  std::vector<std::pair<std::string, std::string>> terms_;  // empty: match text_ in the id
};

}  // namespace hamster
