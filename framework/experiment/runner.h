#pragma once
// The experiment runner: every hasher x bits x seed is trained once (the "build", cached
// on disk under a content hash of its inputs), encoded once, and every re-ranker is
// evaluated on those codes (the "cells"). Finished cells are skipped on a re-run, so a
// crashed run resumes where it stopped; --force redoes them.
#include <filesystem>
#include <iosfwd>
#include <string>

#include "framework/experiment/config.h"

namespace hamster {

struct RunOptions {
  bool dry_run = false;       // list the cells, run nothing
  bool force = false;         // retrain the builds of matching cells; redo all their cells
  std::string filter;         // only cells whose id contains this text, e.g. "dsh/32b"
  int shard = 0, shards = 1;  // run builds with index % shards == shard
};

// Returns the number of cells evaluated. Writes <output_dir>/results.jsonl, results.csv,
// split.txt and cache/ (trained models); prints progress to `log`.
int run_experiment(const ExperimentConfig& config, const RunOptions& options, std::ostream& log);

}  // namespace hamster
