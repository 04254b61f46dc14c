#pragma once
// The cache of trained models: every build's model in results/<name>/cache/<key>/ (the
// hasher's files, fit.json with what the fit decided and how long it took, a manifest
// over both), and the checkpoint of a fit in progress beside it. fit_missing() trains the
// builds that have no model yet.
#include <filesystem>
#include <functional>
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

// Where the build's shared artefacts (kNN graph, offline solutions...) are kept on disk for
// the config's query set: inside the model's folder, so a retrained model drops them.
std::filesystem::path artefact_dir(const ExperimentConfig& c, const Build& b);

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

// Called once for each build as soon as its model exists, with the model and the threads
// it may use: a cached model, loaded, before any fit starts (all of config.threads); a
// trained one as it is in memory (not reloaded), on the thread that trained it, right after
// it is stored, while the other fits go on (that fit's share of the cores).
using ModelReady = std::function<void(const Build&, CachedModel model, int threads)>;

// Trains the builds that have no cached model (all of them with force), `parallel_fits`
// at a time, and stores each model; `ready` (optional) sees every build's model.
void fit_missing(const ExperimentConfig& c, const Dataset& data, const Split& split,
                 const std::vector<const Build*>& builds, bool force, Logger& log,
                 const ModelReady& ready = {});

}  // namespace hamster
