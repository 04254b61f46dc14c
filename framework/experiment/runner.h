#pragma once
// The experiment runner: every hasher x bits x seed is trained once (the "build", cached
// on disk under a content hash of its inputs), encoded once, and every re-ranker is
// evaluated on those codes (the "cells"). Finished cells are skipped on a re-run, so a
// crashed run resumes where it stopped; --force redoes them.
#include <filesystem>
#include <iosfwd>
#include <string>

#include "framework/data/dataset.h"
#include "framework/data/split.h"
#include "framework/experiment/config.h"

namespace hamster {

struct RunOptions {
  bool dry_run = false;       // list the cells, run nothing
  bool force = false;         // retrain the builds of matching cells; redo all their cells
  std::string filter;         // only cells whose id contains this text, e.g. "dsh/32b"
  int shard = 0, shards = 1;  // run builds with index % shards == shard
};

Dataset load_dataset(const ExperimentConfig& config);
// The config's split, with its validation part carved from the training items.
Split split_for(const ExperimentConfig& config, const Dataset& data);

// Which items a run evaluates: the split's queries against its database, or (queries:
// validation) the validation items against the database without them.
struct EvaluationSets {
  std::vector<int64_t> query, database;
};
EvaluationSets evaluation_sets(const ExperimentConfig& config, const Split& split);

// Returns the number of cells evaluated. Writes <output_dir>/results.jsonl, results.csv,
// split.txt and cache/ (trained models); prints progress to `log`.
int run_experiment(const ExperimentConfig& config, const RunOptions& options, std::ostream& log);

// For each build matching `filter` (training it if it is not cached), writes
// <out>/<build>/{query,db}_{codes,real,features,labels}.npy. Returns the builds written.
int export_encodings(const ExperimentConfig& config, const std::string& filter,
                     const std::filesystem::path& out, std::ostream& log);

}  // namespace hamster
