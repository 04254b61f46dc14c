#include "framework/experiment/export.h"

#include <tbb/global_control.h>

#include "framework/error.h"
#include "framework/experiment/cell_evaluation.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/grid.h"
#include "framework/experiment/logger.h"
#include "framework/experiment/model_cache.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;

namespace {

int export_dataset(const ExperimentConfig& c, const CellFilter& filter, const fs::path& out,
                   Logger& log) {
  const std::vector<Build> builds = make_builds(c);
  std::vector<const Build*> chosen;
  for (const Build& b : builds)
    if (filter.matches(b)) chosen.push_back(&b);
  if (chosen.empty()) return 0;
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, c.threads);
  const Dataset data = load_dataset(c);
  const Split split = split_for(c, data);
  const EvaluationSets sets = evaluation_sets(c, split);
  fit_missing(c, data, split, chosen, false, log);
  for (const Build* b : chosen) {
    EncodedBuild e = encode_build(c, data, sets, *b, load_model(c, *b), c.threads);
    std::string name = b->id;
    for (char& ch : name)
      if (ch == '/' || ch == '(' || ch == ')' || ch == ',' || ch == '=') ch = '_';
    const fs::path dir = out / name;
    save_code_bits(dir / "query_codes.npy", e.query.codes);
    save_code_bits(dir / "db_codes.npy", e.database.codes);
    save_embedding(dir / "query_real.npy", e.query.real);
    save_embedding(dir / "db_real.npy", e.database.real);
    save_embedding(dir / "query_features.npy", e.query.features);
    save_embedding(dir / "db_features.npy", e.database.features);
    save_labels(dir / "query_labels.npy", labels_of(data, sets.query), data.num_classes());
    save_labels(dir / "db_labels.npy", labels_of(data, sets.database), data.num_classes());
    log("exported " + b->id + " to " + dir.string());
  }
  return static_cast<int>(chosen.size());
}

}  // namespace

int export_encodings(const ExperimentConfig& config, const std::string& filter, const fs::path& out,
                     std::ostream& stream) {
  Logger log(stream);
  const CellFilter parsed(filter);
  int exported = 0;
  for (size_t i = 0; i < config.datasets.size(); ++i)
    exported += export_dataset(for_dataset(config, i), parsed, out, log);
  if (exported == 0) throw Error("export: no build matches '" + filter + "'");
  return exported;
}

}  // namespace hamster
