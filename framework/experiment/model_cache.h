#pragma once
// The cache of trained models: every build's model in results/<name>/cache/<key>/ (the
// hasher's files, fit.json with what the fit decided and how long it took, a manifest
// over both), and the checkpoint of a fit in progress beside it. fit_missing() trains the
// builds that have no model yet.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/data/split.h"
#include "framework/experiment/config.h"
#include "framework/experiment/grid.h"
#include "framework/experiment/logger.h"
#include "framework/hasher.h"

namespace hamster {

// The build's hasher, untrained.
std::unique_ptr<Hasher> make_hasher(const Build& b);

bool has_model(const ExperimentConfig& c, const Build& b);

// The build's trained model, checked against its manifest, and its fit.json.
struct CachedModel {
  std::unique_ptr<Hasher> hasher;
  nlohmann::json fit;
};
CachedModel load_model(const ExperimentConfig& c, const Build& b);

// What running a build's cells would cost, for --dry-run: "model cached, evaluate only",
// "fit from the start", "retrain" (force), or "fit resumes from FILE (after epoch ...)",
// so a long grid run in pieces shows which fits are done and how far the others have got.
std::string fit_plan(const ExperimentConfig& c, const Build& b, bool force);

// Trains the builds that have no cached model (all of them with force), `parallel_fits`
// at a time, and stores each model.
void fit_missing(const ExperimentConfig& c, const Dataset& data, const Split& split,
                 const std::vector<const Build*>& builds, bool force, Logger& log);

}  // namespace hamster
