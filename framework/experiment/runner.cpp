#include "framework/experiment/runner.h"

#include <fmt/format.h>
#include <tbb/global_control.h>

#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "framework/codes/hamming_search.h"
#include "framework/error.h"
#include "framework/experiment/cell_evaluation.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/grid.h"
#include "framework/experiment/logger.h"
#include "framework/experiment/model_cache.h"
#include "framework/experiment/provenance.h"
#include "framework/experiment/result_store.h"
#include "framework/experiment/run_plan.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The first configured metric of a record, for the progress line ("mAP@1000 0.8595"): a
// metric that was not computed is never shown, let alone as 0.
std::string headline_metric(const CellRecord& record) {
  if (record.metrics.empty()) return "no metric";
  return fmt::format("{} {:.4f}", record.metrics.front().first, record.metrics.front().second);
}

// Rewrites results.jsonl once per run: one record per cell (the last written), in the
// order of the whole config's grid (every dataset, whatever --filter or --shard ran), then
// records of cells no longer in the config (kept, not lost). A record found under its
// legacy key is stored under the cell's key from then on.
void compact_results(const ResultStore& store, const std::vector<Cell>& grid) {
  store.rewrite([&](std::vector<json>& records) {
    std::vector<std::string> keys_before;
    for (const json& r : records) keys_before.push_back(r.value("cell_key", ""));
    std::map<std::string, json> by_key = store.keyed(std::move(records));
    std::vector<json> ordered;
    std::set<std::string> written;
    for (const Cell& cell : grid)
      if (const json* r = record_of(by_key, cell)) {
        written.insert({cell.key, cell.legacy_key});
        ordered.push_back(*r);
        ordered.back()["cell_key"] = cell.key;
      }
    for (auto& [k, r] : by_key)
      if (!written.count(k)) ordered.push_back(std::move(r));
    records = std::move(ordered);
    std::vector<std::string> keys;
    for (const json& r : records) keys.push_back(r.value("cell_key", ""));
    return keys != keys_before;
  });
}

int run_one_dataset(const ExperimentConfig& c, const Grid& grid, const RunOptions& opt,
                    std::ostream& out) {
  Logger log(out);
  const std::vector<Build>& builds = grid.builds;
  const std::vector<Cell>& cells = grid.cells;
  const ResultStore store(c.output_dir);
  const std::map<std::string, json> records = store.by_cell_key();
  const CellFilter filter(opt.filter);

  // The cells this invocation owns and has still to do, grouped by build.
  std::vector<const Build*> pending_builds;
  std::map<const Build*, std::vector<const Cell*>> pending;
  for (size_t i = 0; i < builds.size(); ++i) {
    if (static_cast<int>(i % opt.shards) != opt.shard) continue;
    for (const Cell& cell : cells)
      if (cell.build == &builds[i] && filter.matches(cell) &&
          (opt.force || !record_of(records, cell)))
        pending[&builds[i]].push_back(&cell);
    if (!pending.count(&builds[i])) continue;
    pending_builds.push_back(&builds[i]);
    // --force retrains the build, so every one of its cells must describe the new model.
    if (opt.force) {
      pending[&builds[i]].clear();
      for (const Cell& cell : cells)
        if (cell.build == &builds[i]) pending[&builds[i]].push_back(&cell);
    }
  }
  check_sizes(c, cells);
  note_cutoffs_beyond_shortlist(c, cells, log);
  note_missing_metrics(c, cells, records, log);
  size_t total = 0;
  for (const auto& [b, list] : pending) total += list.size();
  log(fmt::format("experiment {}: {} cells in the grid, {} to run, results in {}", c.name,
                  cells.size(), total, c.output_dir.string()));
  if (opt.dry_run) {
    for (const Build* b : pending_builds) {
      log(fmt::format("  build {}: {}", b->id, fit_plan(c, *b, opt.force)));
      for (const std::string& line : artefact_plan(c, *b, pending[b], opt.force))
        log("    " + line);
      for (const Cell* cell : pending[b]) log("    would run " + cell->id);
    }
    return 0;
  }
  if (total == 0) return 0;

  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, c.threads);
  const Dataset data = load_dataset(c);
  if (data.size() > std::numeric_limits<int32_t>::max())
    throw Error(fmt::format("{}: {} items; raw results store item indices as int32", data.name,
                            data.size()));
  const Split split = split_for(c, data);
  const EvaluationSets sets = evaluation_sets(c, split);
  if (c.shortlist > static_cast<int64_t>(sets.database.size()))
    throw Error(fmt::format("shortlist L = {} is larger than the database ({} items)", c.shortlist,
                            sets.database.size()));
  for (const auto* ks : {&c.eval.map_at, &c.eval.precision_at, &c.eval.recall_at})
    for (int64_t k : *ks)
      if (k > static_cast<int64_t>(sets.database.size()))
        throw Error(fmt::format("metric cut-off k = {} is larger than the database ({} items)", k,
                                sets.database.size()));
  fs::create_directories(c.output_dir);
  save_split(split, c.output_dir / split_file(c));
  log(fmt::format("{} ({} items): {} {} queries, {} training, {} validation, {} database",
                  data.name, data.size(), sets.query.size(), c.queries, split.train.size(),
                  split.validation.size(), sets.database.size()));

  default_hamming_kernel();  // a bad HAMSTER_HAMMING_KERNEL fails here, not after training
  const Provenance prov = collect_provenance();
  // Each perturbation's query images, made once and shared by every build; seeded by the
  // split seed alone, so every hasher sees the same degraded queries.
  std::map<std::string, Dataset> perturbed_queries;
  for (const Perturbation& p : c.perturbations)
    if (!p.none())
      perturbed_queries[p.label()] =
          perturbed_subset(data, sets.query, p, c.split_seed ^ 0x9e27b5d1ull);
  const auto query_labels = labels_of(data, sets.query);
  const auto db_labels = labels_of(data, sets.database);
  size_t finished = 0;
  // Seconds spent evaluating builds (encoding, stage 1, shared artefacts, re-ranking), not
  // training: the cells' ETA comes from these alone, as fits report their own.
  double evaluating_seconds = 0;
  // Two fits may finish at once: one build is evaluated at a time, so records and the cell
  // count stay in order.
  std::mutex evaluating;
  std::map<std::string, double> built_seconds;  // artefact key -> seconds its last build took
  auto evaluate_build = [&](const Build& b, CachedModel model, int threads) {
    std::lock_guard<std::mutex> lock(evaluating);
    const auto build_start = clock_type::now();
    const double evaluated_before = evaluating_seconds;
    EncodedBuild e = encode_build(c, data, sets, b, std::move(model), threads);
    // Shared artefacts (kNN graph, affinity, eigenpairs) are announced as they start: a
    // cell's line can wait minutes on them.
    // The estimate is the same artefact's time in an earlier build of this run (keys name
    // the artefact, not the build).
    e.artefacts->on_start = [&](const std::string& key, bool from_disk) {
      const auto before = built_seconds.find(key);
      log(fmt::format("  {} shared artefact {} ({}){}", from_disk ? "loading" : "building", key,
                      b.id,
                      from_disk || before == built_seconds.end()
                          ? ""
                          : fmt::format(": about {:.0f}s, as in the last build", before->second)));
    };
    e.artefacts->on_done = [&](const std::string& key, bool from_disk, double seconds) {
      if (!from_disk) built_seconds[key] = seconds;
      log(fmt::format("  shared artefact {} {} in {:.1f}s", key, from_disk ? "loaded" : "built",
                      seconds));
    };
    log(fmt::format(
        "encode {}: {:.0f} images/s, {} distinct database codes, quantization error {:.4f}, "
        "bit balance {:.4f}, bit correlation {:.4f}",
        b.id, e.encode_images_per_second, e.diagnostics.distinct_codes,
        e.diagnostics.quantization_error, e.diagnostics.bit_balance,
        e.diagnostics.bit_correlation));
    for (const Perturbation& p : c.perturbations) {
      std::vector<const Cell*> todo;
      for (const Cell* cell : pending.at(&b))
        if (cell->perturb == &p) todo.push_back(cell);
      if (todo.empty()) continue;
      // Perturbed queries go through the same trained model; the database codes are shared.
      const Encoded query = p.none() ? e.query
                                     : e.hasher->encode(perturbed_queries.at(p.label()),
                                                        all_positions(sets.query), threads);
      const Stage1 s1 = search_stage1(c, query, e, query_labels, db_labels);
      for (const Cell* cell : todo) {
        CellRecord record;
        try {
          record = evaluate_cell(c, *cell, e, query, s1, sets, prov);
        } catch (const Error& error) {  // which cell: a grid has dozens with one re-ranker
          throw Error(fmt::format("cell {}: {}", cell->id, error.what()));
        }
        store.append(record);  // after every cell: a crash loses at most one
        ++finished;
        evaluating_seconds = evaluated_before + seconds_since(build_start);
        const double elapsed = evaluating_seconds;
        log(fmt::format("cell {}/{} {}: {}  [ETA {:.0f}s]", finished, total, cell->id,
                        headline_metric(record), elapsed / finished * (total - finished)));
      }
    }
  };
  // Cached models first, then each trained build as soon as its model is stored: a grid
  // that trains for hours shows its results as it goes, and a failed fit keeps the others'.
  fit_missing(c, data, split, pending_builds, opt.force, log, evaluate_build);
  return static_cast<int>(finished);
}

}  // namespace

int run_experiment(const ExperimentConfig& config, const RunOptions& opt, std::ostream& out) {
  if (opt.shards < 1 || opt.shard < 0 || opt.shard >= opt.shards)
    throw Error(fmt::format("--shard {}/{}: expected I/N with 0 <= I < N", opt.shard, opt.shards));
  // Each dataset's config, then its grid, made once: the grids point into the configs.
  std::vector<ExperimentConfig> parts;
  for (size_t i = 0; i < config.datasets.size(); ++i) parts.push_back(for_dataset(config, i));
  std::vector<Grid> grids;
  for (const ExperimentConfig& c : parts) grids.emplace_back(c);
  if (!opt.filter.empty()) {  // over the whole grid: a term may match one dataset only
    const CellFilter filter(opt.filter);
    bool any = false;
    for (const Grid& g : grids)
      for (const Cell& x : g.cells) any = any || filter.matches(x);
    if (!any)
      throw Error("--filter '" + opt.filter + "' matches no cell of the grid (ids look like " +
                  grids.back().cells.front().id +
                  "; or use key=value terms: hasher, bits, seed, reranker)");
  }
  int done = 0;
  for (size_t i = 0; i < parts.size(); ++i) done += run_one_dataset(parts[i], grids[i], opt, out);
  // Also when nothing ran: a re-run puts a folder that filtered or sharded runs (or an older
  // hamster) left out of order back into the config's order, which `hamster table` follows.
  if (!opt.dry_run && fs::exists(config.output_dir / "results.jsonl")) {
    // Every dataset's cells, in the config's order: a filtered or sharded run must not move
    // the cells it ran ahead of the others.
    std::vector<Cell> all;
    for (const Grid& g : grids) all.insert(all.end(), g.cells.begin(), g.cells.end());
    compact_results(ResultStore(config.output_dir), all);
  }
  return done;
}

}  // namespace hamster
