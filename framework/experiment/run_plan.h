#pragma once
// What a run settles from the config and the records alone, before any data loads: sizes
// that cannot work fail here (so a dry run catches them), notes on metric cut-offs, and
// which cells already have a record.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/experiment/config.h"
#include "framework/experiment/grid.h"
#include "framework/experiment/logger.h"

namespace hamster {

// The record of a cell in `records` (by its key, or the key it had when metric names were
// part of it), or nullptr.
const nlohmann::json* record_of(const std::map<std::string, nlohmann::json>& records,
                                const Cell& cell);

// What can be checked against the database size before the data loads (the split's size
// is fixed for the default Fashion-MNIST files): the shortlist, the metrics' cut-offs and
// every re-ranker parameter that must stay below it. An error names the cell and the size,
// so a dry run catches what would otherwise fail minutes into the run.
void check_sizes(const ExperimentConfig& c, const std::vector<Cell>& cells);

// A cut-off past L in a grid with re-rankers: ranks after L keep their Hamming order in
// every cell (docs/protocol.md), so such a column tells re-rankers apart less than it seems.
void note_cutoffs_beyond_shortlist(const ExperimentConfig& c, const std::vector<Cell>& cells,
                                   Logger& log);

// Metric names are not part of a cell's identity, so a metric added to a finished config
// re-runs nothing; says how to add it to the records that lack it.
void note_missing_metrics(const ExperimentConfig& c, const std::vector<Cell>& cells,
                          const std::map<std::string, nlohmann::json>& records, Logger& log);

// For --dry-run: the shared artefacts the build's `cells` will ask for (each re-ranker's
// artefacts(), in order, each once), one line each, saying whether the build's cache holds
// it on disk ("cached") or not ("not cached": built when needed, which an artefact built
// from a cached one may not be; always so with force or without a model, since a fit
// replaces the model's folder and its artefacts with it).
std::vector<std::string> artefact_plan(const ExperimentConfig& c, const Build& b,
                                       const std::vector<const Cell*>& cells, bool force);

}  // namespace hamster
