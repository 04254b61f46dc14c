#pragma once
// Evaluating a build's cells: the trained model encodes the queries and the database once
// (EncodedBuild), stage 1 finds every query's Hamming shortlist once (Stage1), and each cell
// re-ranks those shortlists with its re-ranker and becomes one result record.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/artefacts.h"
#include "framework/codes/diagnostics.h"
#include "framework/eval/metrics.h"
#include "framework/experiment/cell_record.h"
#include "framework/experiment/config.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/grid.h"
#include "framework/experiment/model_cache.h"
#include "framework/experiment/provenance.h"
#include "framework/hasher.h"
#include "framework/types.h"

namespace hamster {

struct EncodedBuild {
  std::unique_ptr<Hasher> hasher;
  Encoded query, database;
  nlohmann::json fit;  // the model's fit record (times, fit summary)
  double encode_images_per_second = 0;
  CodeDiagnostics diagnostics;               // of the database codes, once per build
  std::unique_ptr<ArtefactStore> artefacts;  // shared by the build's re-rankers
};

// Encodes the evaluation sets with the build's trained `model` on `threads`.
EncodedBuild encode_build(const ExperimentConfig& c, const Dataset& data,
                          const EvaluationSets& sets, const Build& b, CachedModel model,
                          int threads);

// What every cell of one build (and query perturbation) shares: the stage-1 shortlists and
// the Hamming-only part of the evaluation.
struct Stage1 {
  std::vector<Shortlist> lists;
  std::string ran;          // the search that ran (framework/stage1.h)
  double us_per_query = 0;  // Hamming kNN of the shortlists
  std::unique_ptr<HammingEvaluation> evaluation;
  double evaluation_seconds = 0;
};
Stage1 search_stage1(const ExperimentConfig& c, const Encoded& query, const EncodedBuild& e,
                     const std::vector<LabelSet>& query_labels,
                     const std::vector<LabelSet>& db_labels);

// One cell's record: its re-ranker prepared on the build (shared artefacts timed on their
// own) and run on the stage-1 shortlists of `query`, the metrics, and the final top L of
// every query written to the cell's raw file before the record is returned.
CellRecord evaluate_cell(const ExperimentConfig& c, const Cell& cell, const EncodedBuild& e,
                         const Encoded& query, const Stage1& s1, const EvaluationSets& sets,
                         const Provenance& prov);

// 0, 1, ..., ids.size() - 1: the items of a dataset made of data[ids].
std::vector<int64_t> all_positions(const std::vector<int64_t>& ids);
std::vector<LabelSet> labels_of(const Dataset& data, const std::vector<int64_t>& ids);

// The split file of the dataset a config runs (one per protocol in a datasets grid).
std::string split_file(const ExperimentConfig& c);

}  // namespace hamster
