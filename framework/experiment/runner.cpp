#include "framework/experiment/runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <tbb/global_control.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "framework/codes/diagnostics.h"
#include "framework/codes/hamming_search.h"
#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/grid.h"
#include "framework/experiment/logger.h"
#include "framework/experiment/model_cache.h"
#include "framework/experiment/provenance.h"
#include "framework/experiment/raw_results.h"
#include "framework/experiment/records.h"
#include "framework/hasher.h"
#include "framework/manifest.h"
#include "framework/npy.h"
#include "framework/reranker.h"
#include "framework/stage1.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The first configured metric of a record, for the progress line ("mAP@1000 0.8595"): a
// metric that was not computed is never shown, let alone as 0.
std::string headline_metric(const json& record) {
  for (const auto& name : record.at("metric_order")) {
    const std::string metric = name.get<std::string>();
    if (record.at("metrics").contains(metric))
      return fmt::format("{} {:.4f}", metric, record["metrics"][metric].get<double>());
  }
  return "no metric";
}

// What can be checked against the database size before the data loads (the split's size
// is fixed for the default Fashion-MNIST files): the shortlist, the metrics' cut-offs and
// every re-ranker parameter that must stay below it. An error names the cell and the size,
// so a dry run catches what would otherwise fail minutes into the run.
void check_sizes(const ExperimentConfig& c, const std::vector<Cell>& cells) {
  const int64_t n = expected_database_size(c);
  if (n <= 0) return;
  const std::string where =
      fmt::format("{} on {} gives a database of {} items", c.protocol, c.dataset, n);
  if (c.shortlist > n)
    throw Error(
        fmt::format("shortlist L = {} is larger than the database ({})", c.shortlist, where));
  for (const auto* ks : {&c.eval.map_at, &c.eval.precision_at, &c.eval.recall_at})
    for (int64_t k : *ks)
      if (k > n)
        throw Error(
            fmt::format("metric cut-off k = {} is larger than the database ({})", k, where));
  for (const Cell& cell : cells) {
    const auto& specs = RerankerRegistry::instance().entries().at(cell.reranker->name).params;
    const Params params(cell.reranker->values(), specs, cell.reranker->name);
    for (const ParamSpec& spec : specs)
      if (spec.below_database && params.get_int(spec.name) >= n)
        throw Error(fmt::format("cell {}: {} = {} must be below the database size ({})", cell.id,
                                spec.name, params.get_int(spec.name), where));
  }
}

// `list`, read from `file`, by cell_key (the last record of a key wins).
std::map<std::string, json> by_cell_key(std::vector<json> list, const fs::path& file) {
  std::map<std::string, json> records;
  for (json& r : list) {
    if (!r.contains("cell_key"))
      throw Error(file.string() + ": a record has no cell_key (not written by hamster run?)");
    const std::string key = r["cell_key"].get<std::string>();
    records[key] = std::move(r);
  }
  return records;
}

std::map<std::string, json> records_by_key(const fs::path& file) {
  return by_cell_key(read_records(file), file);
}

// The record of a cell in `records` (by its key, or the key it had when metric names were
// part of it), or nullptr.
const json* record_of(const std::map<std::string, json>& records, const Cell& cell) {
  auto it = records.find(cell.key);
  if (it == records.end()) it = records.find(cell.legacy_key);
  return it == records.end() ? nullptr : &it->second;
}

// Appends one finished cell: O(record) per cell, so a grid of thousands of cells writes
// each record once (rewriting the file after every cell made it O(cells^2) bytes). A
// redone cell appears twice until compact_results; readers keep the last.
void append_record(const ExperimentConfig& c, const json& record) {
  with_results_lock(c.output_dir, [&] {
    const fs::path file = c.output_dir / "results.jsonl";
    const std::string line = record.dump() + "\n";
    const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
    const bool ok =
        fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    if (fd >= 0) ::close(fd);
    if (!ok) throw Error("cannot append to " + file.string());
  });
}

// Rewrites results.jsonl once per run: one record per cell (the last written), in the
// order of the whole config's grid (every dataset, whatever --filter or --shard ran), then
// records of cells no longer in the config (kept, not lost); and derives results.csv from
// it. A record found under its legacy key is stored under the cell's key from then on.
// Atomic, under the lock.
void compact_results(const fs::path& output_dir, const std::vector<Cell>& grid) {
  with_results_lock(output_dir, [&] {
    const fs::path file = output_dir / "results.jsonl";
    std::vector<json> in_file = read_records(file);
    std::vector<std::string> keys_in_file;
    for (const json& r : in_file) keys_in_file.push_back(r.value("cell_key", ""));
    std::map<std::string, json> records = by_cell_key(std::move(in_file), file);
    std::vector<json> ordered;
    std::set<std::string> written;
    for (const Cell& cell : grid)
      if (const json* r = record_of(records, cell)) {
        written.insert({cell.key, cell.legacy_key});
        ordered.push_back(*r);
        ordered.back()["cell_key"] = cell.key;
      }
    for (const auto& [k, r] : records)
      if (!written.count(k)) ordered.push_back(r);
    std::vector<std::string> keys;
    for (const json& r : ordered) keys.push_back(r.value("cell_key", ""));
    if (keys == keys_in_file && fs::exists(output_dir / "results.csv")) return;  // in order
    std::string text;
    for (const json& r : ordered) text += r.dump() + "\n";
    write_file_atomic(file, text);
    write_file_atomic(output_dir / "results.csv", format_records(ordered, "csv", file.string()));
  });
}

struct EncodedBuild {
  std::unique_ptr<Hasher> hasher;
  Encoded query, database;
  json fit;
  double encode_images_per_second = 0;
  CodeDiagnostics diagnostics;               // of the database codes, once per build
  std::unique_ptr<ArtefactStore> artefacts;  // shared by the build's re-rankers
};

// `threads` does not change the codes (tests/test_hashers.cpp encodes on 1 and on 2 threads;
// hashers.yaml's DSH 64 gave the same record both ways); it keeps an evaluation beside a
// running fit to that fit's share of the cores.
EncodedBuild encode_build(const ExperimentConfig& c, const Dataset& data,
                          const EvaluationSets& sets, const Build& b, int threads) {
  EncodedBuild e;
  CachedModel model = load_model(c, b);
  e.hasher = std::move(model.hasher);
  e.fit = std::move(model.fit);
  const auto t0 = clock_type::now();
  e.query = e.hasher->encode(data, sets.query, threads);
  e.database = e.hasher->encode(data, sets.database, threads);
  e.encode_images_per_second =
      static_cast<double>(sets.query.size() + sets.database.size()) / seconds_since(t0);
  e.diagnostics = code_diagnostics(e.database.codes, e.database.real);
  // Per query set: the validation database lacks the validation items, so its graph differs.
  e.artefacts =
      std::make_unique<ArtefactStore>(c.output_dir / b.cache_dir() / "artefacts" / c.queries);
  return e;
}

// 0, 1, ..., ids.size() - 1: the items of a dataset made of data[ids].
std::vector<int64_t> all_positions(const std::vector<int64_t>& ids) {
  std::vector<int64_t> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) out[i] = static_cast<int64_t>(i);
  return out;
}

std::vector<LabelSet> labels_of(const Dataset& data, const std::vector<int64_t>& ids) {
  std::vector<LabelSet> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) out[i] = data.labels[ids[i]];
  return out;
}

// What every cell of one build shares: stage-1 shortlists and the Hamming-only part of the
// evaluation, computed once per build.
struct Stage1 {
  std::vector<Shortlist> lists;
  std::string ran;          // the search that ran (framework/stage1.h)
  double us_per_query = 0;  // Hamming kNN of the shortlists
  std::unique_ptr<HammingEvaluation> evaluation;
  double evaluation_seconds = 0;
};

// Where a cell's raw results go, relative to the results folder.
std::string raw_path(const Cell& cell) { return "raw/" + cell.key + ".bin.gz"; }

// The split file of the dataset a config runs (one per protocol in a datasets grid).
std::string split_file(const ExperimentConfig& c) {
  return c.id_prefix.empty() ? "split.txt" : "split-" + c.protocol + ".txt";
}

// The final top L of every query as dataset items: the re-ranked head, then the rest of the
// query's Hamming shortlist (a head may be shorter than the shortlist it reorders).
RawResults final_rankings(const EvaluationSets& sets, const std::vector<Shortlist>& stage1,
                          const std::vector<Shortlist>& heads) {
  RawResults raw;
  raw.top = stage1.empty() ? 0 : static_cast<int64_t>(stage1.front().ids.size());
  for (int64_t q : sets.query) raw.query_items.push_back(static_cast<int32_t>(q));
  raw.ranked.reserve(raw.query_items.size() * raw.top);
  for (size_t q = 0; q < stage1.size(); ++q) {
    const std::vector<int64_t>& head = heads[q].ids;
    const std::vector<int64_t>& prefix = stage1[q].ids;
    for (size_t r = 0; r < prefix.size(); ++r)
      raw.ranked.push_back(
          static_cast<int32_t>(sets.database[r < head.size() ? head[r] : prefix[r]]));
  }
  return raw;
}

// The dataset as the record names it, so that `hamster evaluate` loads the same items.
json dataset_source(const ExperimentConfig& c) {
  json options = json::object();
  for (const auto& [k, v] : dataset_options(c))
    options[k] = k == "image_root" && !v.empty() ? fs::absolute(v).string() : v;
  return {{"path", c.dataset_path.empty() ? "" : fs::absolute(c.dataset_path).string()},
          {"options", options}};
}

json evaluate_cell(const ExperimentConfig& c, const Cell& cell, const EncodedBuild& e,
                   const Encoded& query, const Stage1& s1, const EvaluationSets& sets,
                   const Provenance& prov) {
  auto reranker = RerankerRegistry::instance().create(cell.reranker->name, cell.reranker->values());
  e.artefacts->take_requests();
  const size_t built_before = e.artefacts->entries().size();
  auto t0 = clock_type::now();
  reranker->prepare(RerankContext{e.database, *e.artefacts, c.threads, cell.build->seed});
  double prepare_seconds = seconds_since(t0);
  // Shared artefacts are timed on their own; the cell that first asked does not pay for them.
  const auto built = e.artefacts->entries();
  for (size_t i = built_before; i < built.size(); ++i) prepare_seconds -= built[i].seconds;
  prepare_seconds = std::max(0.0, prepare_seconds);
  json artefacts = json::array();
  double artefact_seconds = 0;
  for (const ArtefactStore::Entry& a : e.artefacts->take_requests()) {
    artefacts.push_back({{"key", a.key}, {"seconds", a.seconds}, {"from_disk", a.from_disk}});
    artefact_seconds += a.seconds;
  }
  std::vector<Shortlist> lists = s1.lists;
  t0 = clock_type::now();
  reranker->rerank(query, lists);
  const double rerank_us = seconds_since(t0) * 1e6 / std::max<size_t>(1, lists.size());
  const Evaluation ev = s1.evaluation->score(lists);
  // Before the record is appended: a record never names a raw file that is not there.
  write_raw_results(c.output_dir / raw_path(cell), final_rankings(sets, s1.lists, lists));

  json metrics = json::object(), order = json::array();
  for (const auto& [name, value] : ev.metrics) {
    metrics[name] = value;
    order.push_back(name);
  }
  const Build& b = *cell.build;
  return json{
      {"cell_key", cell.key},
      {"cell", cell.id},
      {"experiment", c.name},
      {"dataset", c.dataset},
      {"protocol", c.protocol},
      {"queries_from", c.queries},
      {"split_seed", c.split_seed},
      {"queries", query.codes.size()},
      {"perturb", cell.perturb->label()},
      {"database", e.database.codes.size()},
      {"hasher", b.hasher->name},
      {"hasher_params", b.hasher->params},
      {"hasher_budget", b.hasher->budget},
      {"hasher_effective_params",
       Params(b.hasher->values(), HasherRegistry::instance().entry(b.hasher->name).params,
              b.hasher->name)
           .values()},
      {"fit_summary", e.fit.value("summary", json::object())},
      {"bits", b.bits},
      {"seed", b.seed},
      {"reranker", cell.reranker->name},
      {"reranker_label", cell.reranker->label()},
      {"reranker_params", cell.reranker->params},
      {"reranker_effective_params",
       Params(cell.reranker->values(),
              RerankerRegistry::instance().entry(cell.reranker->name).params, cell.reranker->name)
           .values()},
      {"reranker_diagnostics", reranker->diagnostics()},
      {"shortlist", c.shortlist},
      {"stage1", {{"search", c.stage1}, {"ran", s1.ran}}},
      {"raw", raw_path(cell)},
      {"split_file", split_file(c)},
      {"dataset_source", dataset_source(c)},
      {"metric_order", order},
      {"metrics", metrics},
      {"pr_curve", {{"radius_precision", ev.pr_precision}, {"radius_recall", ev.pr_recall}}},
      {"distinct_database_codes", e.diagnostics.distinct_codes},
      {"code_diagnostics",
       {{"quantization_error", e.diagnostics.quantization_error},
        {"bit_balance", e.diagnostics.bit_balance},
        {"bit_correlation", e.diagnostics.bit_correlation},
        {"distinct_codes", e.diagnostics.distinct_codes}}},
      {"times",
       {{"train_seconds", e.fit.value("train_seconds", 0.0)},
        {"train_images_per_second", e.fit.value("train_images_per_second", 0.0)},
        {"fit_threads", e.fit.value("fit_threads", 0)},
        {"encode_images_per_second", e.encode_images_per_second},
        {"stage1_us_per_query", s1.us_per_query},
        {"stage1_evaluation_seconds", s1.evaluation_seconds},
        {"rerank_us_per_query", rerank_us},
        {"prepare_seconds", prepare_seconds},
        {"artefact_seconds", artefact_seconds}}},
      {"artefacts", artefacts},
      {"provenance",
       {{"git_sha", prov.git_sha},
        {"git_dirty", prov.git_dirty},
        {"config_hash", c.hash},
        {"build_key", b.key},
        {"versions", prov.versions},
        {"threads", c.threads},
        {"host", prov.host},
        {"cpu_model", prov.cpu_model},
        {"cpu_flags", prov.cpu_flags},
        {"hamming_kernel", prov.hamming_kernel},
        {"timestamp", prov.timestamp}}},
  };
}

}  // namespace

Dataset load_dataset(const ExperimentConfig& c) { return dataset_spec(c.dataset).load(c); }

Split split_for(const ExperimentConfig& c, const Dataset& data) {
  Split split = c.protocol == "stratified"
                    ? make_stratified_split(data, c.query_per_class, c.train_per_class,
                                            c.database_includes_train, c.split_seed)
                : c.protocol == "per-concept"
                    ? make_concept_split(data, c.query_per_class, c.train_per_class, c.split_seed)
                    : make_split(c.protocol, data, c.split_seed);
  carve_validation(split, data, c.validation_per_class, c.split_seed);
  return split;
}

EvaluationSets evaluation_sets(const ExperimentConfig& c, const Split& split) {
  if (c.queries == "test") return {split.query, split.database};
  EvaluationSets sets{split.validation, {}};
  std::set_difference(split.database.begin(), split.database.end(), split.validation.begin(),
                      split.validation.end(), std::back_inserter(sets.database));
  return sets;
}

namespace {

// The metric columns whose cut-off k reaches past the shortlist L ("all" included): a
// re-ranker reorders only the top L, and the raw results keep only the top L.
std::set<std::string> beyond_shortlist(const ExperimentConfig& c) {
  std::set<std::string> out;
  for (const auto& [prefix, ks] :
       {std::pair{"mAP@", &c.eval.map_at}, std::pair{"P@", &c.eval.precision_at},
        std::pair{"R@", &c.eval.recall_at}})
    for (int64_t k : *ks)
      if (k == kAll || k > c.shortlist)
        out.insert(prefix + (k == kAll ? std::string("all") : std::to_string(k)));
  return out;
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& m : names) out += (out.empty() ? "" : ", ") + m;
  return out;
}

// A cut-off past L in a grid with re-rankers: ranks after L keep their Hamming order in
// every cell (docs/protocol.md), so such a column tells re-rankers apart less than it seems.
// "all" is left out: everybody reads mAP@all as the whole ranking.
void note_cutoffs_beyond_shortlist(const ExperimentConfig& c, const std::vector<Cell>& cells,
                                   Logger& log) {
  std::set<std::string> names = beyond_shortlist(c);
  for (auto it = names.begin(); it != names.end();)
    it = it->size() > 3 && it->substr(it->size() - 3) == "all" ? names.erase(it) : std::next(it);
  const bool reranked = std::any_of(cells.begin(), cells.end(),
                                    [](const Cell& cell) { return cell.reranker->name != "none"; });
  if (names.empty() || !reranked) return;
  log(fmt::format(
      "note: {} {} beyond the shortlist (L = {}): re-rankers reorder only the top {}, ranks "
      "after it keep their Hamming order in every cell, and `hamster evaluate` cannot add such "
      "cut-offs later (the raw results keep the top L)",
      joined(names), names.size() == 1 ? "reaches" : "reach", c.shortlist, c.shortlist));
}

// Metric names are not part of a cell's identity, so a metric added to a finished config
// re-runs nothing; say how to add it to the records that lack it: `hamster evaluate` from
// the stored top-L rankings, or --force where the cut-off needs more than the top L.
void note_missing_metrics(const ExperimentConfig& c, const std::vector<Cell>& cells,
                          const std::map<std::string, json>& records, Logger& log) {
  std::set<std::string> missing;
  size_t lacking = 0;
  for (const Cell& cell : cells) {
    const json* r = record_of(records, cell);
    if (!r) continue;
    bool lacks = false;
    for (const std::string& m : metric_names(c.eval))
      if (!r->value("metrics", json::object()).contains(m)) missing.insert(m), lacks = true;
    lacking += lacks;
  }
  if (missing.empty()) return;
  const std::set<std::string> beyond = beyond_shortlist(c);
  std::set<std::string> addable, rerun;
  for (const std::string& m : missing) (beyond.count(m) ? rerun : addable).insert(m);
  if (!addable.empty())
    log(
        fmt::format("{} finished cells lack {}: `hamster evaluate {} --metrics ...` adds them "
                    "from the stored rankings, without re-running",
                    lacking, joined(addable), c.output_dir.string()));
  if (!rerun.empty())
    log(
        fmt::format("{} finished cells lack {}, which rank past the stored top L = {}: only "
                    "re-running those cells adds them (`hamster run --force`)",
                    lacking, joined(rerun), c.shortlist));
}

int run_one_dataset(const ExperimentConfig& c, const RunOptions& opt, std::ostream& out) {
  Logger log(out);
  const std::vector<Build> builds = make_builds(c);
  const std::vector<Cell> cells = make_cells(c, builds);
  // Under the lock: another process of the grid may be appending a record right now.
  std::map<std::string, json> records;
  if (fs::exists(c.output_dir))
    with_results_lock(c.output_dir,
                      [&] { records = records_by_key(c.output_dir / "results.jsonl"); });
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
  auto evaluate_build = [&](const Build& b, int threads) {
    std::lock_guard<std::mutex> lock(evaluating);
    const auto build_start = clock_type::now();
    const double evaluated_before = evaluating_seconds;
    EncodedBuild e = encode_build(c, data, sets, b, threads);
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
      Stage1 s1;
      Stage1Run run = run_stage1(c.stage1, query.codes, e.database.codes, c.shortlist);
      s1.lists = std::move(run.lists);
      s1.ran = run.ran;
      s1.us_per_query = run.us_per_query;
      const auto t0 = clock_type::now();
      s1.evaluation = std::make_unique<HammingEvaluation>(query_labels, db_labels, query.codes,
                                                          e.database.codes, c.shortlist, c.eval);
      s1.evaluation_seconds = seconds_since(t0);
      for (const Cell* cell : todo) {
        json record;
        try {
          record = evaluate_cell(c, *cell, e, query, s1, sets, prov);
        } catch (const Error& error) {  // which cell: a grid has dozens with one re-ranker
          throw Error(fmt::format("cell {}: {}", cell->id, error.what()));
        }
        append_record(c, record);  // after every cell: a crash loses at most one
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
  std::vector<ExperimentConfig> parts;
  for (size_t i = 0; i < config.datasets.size(); ++i) parts.push_back(for_dataset(config, i));
  if (!opt.filter.empty()) {  // over the whole grid: a term may match one dataset only
    const CellFilter filter(opt.filter);
    bool any = false;
    std::string example;
    for (const ExperimentConfig& c : parts) {
      const std::vector<Build> builds = make_builds(c);
      const std::vector<Cell> cells = make_cells(c, builds);
      example = cells.front().id;
      for (const Cell& x : cells) any = any || filter.matches(x);
    }
    if (!any)
      throw Error("--filter '" + opt.filter + "' matches no cell of the grid (ids look like " +
                  example + "; or use key=value terms: hasher, bits, seed, reranker)");
  }
  int done = 0;
  for (const ExperimentConfig& c : parts) done += run_one_dataset(c, opt, out);
  // Also when nothing ran: a re-run puts a folder that filtered or sharded runs (or an older
  // hamster) left out of order back into the config's order, which `hamster table` follows.
  if (!opt.dry_run && fs::exists(config.output_dir / "results.jsonl")) {
    // Every dataset's cells, in the config's order: a filtered or sharded run must not move
    // the cells it ran ahead of the others.
    std::vector<std::vector<Build>> builds;  // the cells point into these
    builds.reserve(parts.size());
    std::vector<Cell> grid;
    for (const ExperimentConfig& c : parts) {
      builds.push_back(make_builds(c));
      for (Cell& cell : make_cells(c, builds.back())) grid.push_back(std::move(cell));
    }
    compact_results(config.output_dir, grid);
  }
  return done;
}

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
    EncodedBuild e = encode_build(c, data, sets, *b, c.threads);
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
