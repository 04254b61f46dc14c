#include "framework/experiment/runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <tbb/global_control.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <thread>

#include "framework/codes/diagnostics.h"
#include "framework/codes/hamming_search.h"
#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/provenance.h"
#include "framework/experiment/raw_results.h"
#include "framework/experiment/records.h"
#include "framework/hasher.h"
#include "framework/manifest.h"
#include "framework/npy.h"
#include "framework/reranker.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// In every cached model folder, beside the hasher's files and fit.json.
constexpr const char* kModelManifest = "manifest.json";

// "<config file>: " before a message about the grid, so the user knows which file to fix.
std::string in_config(const ExperimentConfig& c) { return c.source.empty() ? "" : c.source + ": "; }

// One trained hasher: (hasher, bits, seed) on this dataset and split.
struct Build {
  const PluginSpec* hasher;
  int bits;
  uint64_t seed;
  std::string id;        // "dsh/32b/seed0", shown to users and matched by --filter
  std::string key;       // content hash of everything the trained model depends on
  std::string protocol;  // the dataset's split protocol, e.g. fmnist-1
  fs::path cache_dir() const { return "cache/" + key; }
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

// "|k=v" for every effective parameter of a plugin, defaults included: keys built from it
// change when a default changes in the code, so a stale model or record is never reused.
template <class Reg>
std::string effective_params(const Reg& registry, const PluginSpec& spec) {
  const std::vector<ParamSpec>& specs = registry.entry(spec.name).params;
  const Params effective(spec.values(), specs, spec.name);
  std::string text;
  for (const auto& [k, v] : effective.values()) {
    const auto it = std::find_if(specs.begin(), specs.end(),
                                 [&k = k](const ParamSpec& s) { return s.name == k; });
    if (it != specs.end() && !it->keyed_at_default && v == it->default_value) continue;
    text += "|" + k + "=" + v;
  }
  return text;
}

// Threads of one fit: fixed by the config alone, never by how many fits happen to be
// pending, so that a resumed run trains the same codes.
int fit_threads(const ExperimentConfig& c) { return std::max(1, c.threads / c.parallel_fits); }

std::vector<Build> make_builds(const ExperimentConfig& c) {
  std::vector<Build> builds;
  for (const auto& h : c.hashers)
    for (int bits : c.bits)
      for (uint64_t seed : c.seeds) {
        Build b{&h, bits, seed, fmt::format("{}{}/{}b/seed{}", c.id_prefix, h.label(), bits, seed),
                "", c.protocol};
        std::string text = fmt::format(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", c.dataset, c.dataset_path, c.protocol, c.split_seed,
            c.query_per_class, c.train_per_class, c.database_includes_train, h.name, bits, seed);
        text += dataset_options_key(c);
        text += effective_params(HasherRegistry::instance(), h);
        // Training without the validation items is another model (0 keeps older keys).
        if (c.validation_per_class > 0)
          text += "|validation=" + std::to_string(c.validation_per_class);
        // The fit's thread count can change float summation order, hence the codes.
        text += "|threads=" + std::to_string(fit_threads(c));
        b.key = content_hash(text);
        for (const Build& other : builds)
          if (other.key == b.key)
            throw Error(in_config(c) + "builds " + other.id + " and " + b.id +
                        " are the same (same hasher, effective parameters, bits and seed); "
                        "list each once");
        builds.push_back(b);
      }
  return builds;
}

// A cell's identity is what its ranking depends on. The metrics are not part of it: they
// are computed from the stored ranking (raw/), and `hamster evaluate` adds new ones.
std::vector<Cell> make_cells(const ExperimentConfig& c, const std::vector<Build>& builds) {
  std::string metrics;
  for (const auto& m : metric_names(c.eval)) metrics += m + ",";
  std::vector<Cell> cells;
  for (const auto& b : builds)
    for (const Perturbation& p : c.perturbations)
      for (const auto& r : c.rerankers) {
        const std::string head = b.key + "|" + r.name + "|" + std::to_string(c.shortlist) + "|";
        const std::string params = effective_params(RerankerRegistry::instance(), r);
        std::string tail = c.queries != "test" ? "|queries=" + c.queries : "";
        // Clean queries keep the keys they had before perturbations existed.
        if (!p.none()) tail += "|perturb=" + p.label();
        const std::string id = b.id + "/" + (p.none() ? "" : p.label() + "/") + r.label();
        Cell cell{&b,
                  &r,
                  id,
                  content_hash(head + params + tail),
                  content_hash(head + metrics + params + tail),
                  &p};
        for (const Cell& other : cells)
          if (other.key == cell.key)
            throw Error(in_config(c) + "cells " + other.id + " and " + cell.id +
                        " are the same; list each re-ranker once");
        cells.push_back(cell);
      }
  return cells;
}

// --filter: "key=value" terms joined by commas (hasher, bits, seed, reranker, protocol; a plugin
// matches by name or by its full label), all of which must hold; or, when the filter does
// not start with such a term, plain text the cell id must contain (ids hold '=' too:
// "dsh(epochs=20)/32b/..."). Commas inside a label's parentheses belong to the label.
// Parsed once per run.
class CellFilter {
 public:
  explicit CellFilter(const std::string& text) : text_(text) {
    std::vector<std::string> parts(1);
    int depth = 0;
    for (char ch : text) {
      depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
      if (ch == ',' && depth == 0) {
        parts.emplace_back();
      } else {
        parts.back() += ch;
      }
    }
    for (const std::string& part : parts) {
      const auto eq = part.find('=');
      const std::string key = part.substr(0, eq);
      const bool known = eq != std::string::npos && kKeys.count(key);
      if (!known && terms_.empty()) return;  // plain text
      if (!known)
        throw Error("--filter: '" + part +
                    "' is not a key=value term (keys: hasher, bits, seed, reranker, protocol, "
                    "perturb)");
      terms_.emplace_back(key, part.substr(eq + 1));
    }
  }

  bool matches(const Cell& cell) const {
    if (terms_.empty()) return cell.id.find(text_) != std::string::npos;
    for (const auto& [key, value] : terms_) {
      const bool ok = key == "reranker"
                          ? value == cell.reranker->name || value == cell.reranker->label()
                      : key == "perturb" ? value == cell.perturb->label()
                                         : build_term_holds(*cell.build, key, value);
      if (!ok) return false;
    }
    return true;
  }

  // For `hamster export`, which chooses builds: re-ranker and perturbation terms do not apply.
  bool matches(const Build& b) const {
    if (terms_.empty()) return b.id.find(text_) != std::string::npos;
    for (const auto& [key, value] : terms_) {
      if (key == "reranker" || key == "perturb")
        throw Error("--filter: export chooses builds; '" + key +
                    "' does not apply (keys: hasher, bits, seed, protocol)");
      if (!build_term_holds(b, key, value)) return false;
    }
    return true;
  }

 private:
  inline static const std::set<std::string> kKeys = {"hasher",   "bits",     "seed",
                                                     "reranker", "protocol", "perturb"};
  static bool build_term_holds(const Build& b, const std::string& key, const std::string& value) {
    return key == "hasher"     ? value == b.hasher->name || value == b.hasher->label()
           : key == "bits"     ? value == std::to_string(b.bits)
           : key == "protocol" ? value == b.protocol
                               : value == std::to_string(b.seed);
  }

  std::string text_;
  std::vector<std::pair<std::string, std::string>> terms_;  // empty: match text_ in the id
};

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

std::unique_ptr<Hasher> make_hasher(const Build& b) {
  return HasherRegistry::instance().create(b.hasher->name, b.hasher->values(), b.bits);
}

class Logger {
 public:
  explicit Logger(std::ostream& out) : out_(out) {}
  void operator()(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    out_ << line << std::endl;
  }

 private:
  std::ostream& out_;
  std::mutex mutex_;
};

// Saves a trained model as the cache folder `dir`: its files and fit.json, then the
// manifest over them, in a temporary folder renamed into place, so the folder appears
// whole or not at all. Without --force, a folder another process (a shard, or a second run
// of the same config) stored first is kept: the build is deterministic, so it is the same.
void store_model(const fs::path& dir, const Hasher& hasher, const std::string& fit_json,
                 bool force) {
  fs::path tmp = dir;
  tmp += ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  hasher.save(tmp);
  write_file_atomic(tmp / "fit.json", fit_json);
  write_manifest(tmp / kModelManifest, tmp, files_under(tmp));  // last: it vouches for the rest
  // A folder without a manifest is no finished model (one left by an older hamster, say).
  if (force || !fs::exists(dir / kModelManifest)) fs::remove_all(dir);
  std::error_code taken;
  fs::rename(tmp, dir, taken);  // fails when another process's folder is already there
  if (taken) {
    fs::remove_all(tmp);
    if (!fs::exists(dir / kModelManifest))
      throw Error("cannot store the model in " + dir.string() + " (" + taken.message() + ")");
  }
}

// Keyed like the model, so only this build ever resumes from it.
fs::path checkpoint_file(const ExperimentConfig& c, const Build& b) {
  return c.output_dir / (b.cache_dir().string() + ".checkpoint");
}

bool has_model(const ExperimentConfig& c, const Build& b) {
  return fs::exists(c.output_dir / b.cache_dir() / "fit.json");
}

// What running a build's cells would cost, for --dry-run: a long grid run in pieces shows
// which fits are done, which resume from a checkpoint (and how far they had got).
std::string fit_plan(const ExperimentConfig& c, const Build& b, bool force) {
  if (force) return "retrain";
  if (has_model(c, b)) return "model cached, evaluate only";
  const fs::path checkpoint = checkpoint_file(c, b);
  if (!fs::exists(checkpoint)) return "fit from the start";
  const std::string progress = make_hasher(b)->checkpoint_progress(checkpoint);
  return "fit resumes from " + checkpoint.string() + (progress.empty() ? "" : " (" + progress + ")");
}

// Trains the builds that have no cached model, `parallel_fits` at a time. Two small-network
// trainings side by side use two cores better than one training on two threads
// (bench_training: 1.96x against 1.71x one training on one thread).
void fit_missing(const ExperimentConfig& c, const Dataset& data, const Split& split,
                 const std::vector<const Build*>& builds, bool force, Logger& log) {
  std::vector<const Build*> todo;
  for (const Build* b : builds)
    if (force || !has_model(c, *b)) todo.push_back(b);
  if (todo.empty()) return;
  const int workers = std::min<int>(c.parallel_fits, static_cast<int>(todo.size()));
  const int threads_each = fit_threads(c);
  std::atomic<size_t> next{0}, done{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto start = clock_type::now();
  auto worker = [&] {
    for (size_t i; (i = next++) < todo.size();) {
      const Build& b = *todo[i];
      try {
        log(fmt::format("fit {} ({} training items, {} threads)", b.id, split.train.size(),
                        threads_each));
        auto hasher = make_hasher(b);
        FitContext ctx;
        ctx.seed = b.seed;
        ctx.threads = threads_each;
        ctx.validation = split.validation;
        ctx.log = [&log](const std::string& line) { log(line); };
        ctx.checkpoint = checkpoint_file(c, b);
        if (force) fs::remove(ctx.checkpoint);
        const auto t0 = clock_type::now();
        hasher->fit(data, split.train, ctx);
        const auto summary = hasher->fit_summary();
        // A resumed fit's time includes the stopped runs' epochs.
        const auto before = summary.find("seconds_before_resume");
        const double seconds =
            seconds_since(t0) + (before == summary.end() ? 0.0 : before->second);
        json fit = {{"train_seconds", seconds},
                    {"train_images_per_second", hasher->train_images_per_second()},
                    {"fit_threads", threads_each}};
        for (const auto& [k, v] : summary) fit["summary"][k] = v;
        store_model(c.output_dir / b.cache_dir(), *hasher, fit.dump(2), force);
        fs::remove(ctx.checkpoint);
        const size_t finished = ++done;
        const double elapsed = seconds_since(start);
        log(fmt::format("fit {} done in {:.1f}s  [builds {}/{}, ETA {:.0f}s]", b.id, seconds,
                        finished, todo.size(), elapsed / finished * (todo.size() - finished)));
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = todo.size();  // stop handing out work
      }
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

struct EncodedBuild {
  std::unique_ptr<Hasher> hasher;
  Encoded query, database;
  json fit;
  double encode_images_per_second = 0;
  CodeDiagnostics diagnostics;               // of the database codes, once per build
  std::unique_ptr<ArtefactStore> artefacts;  // shared by the build's re-rankers
};

EncodedBuild encode_build(const ExperimentConfig& c, const Dataset& data,
                          const EvaluationSets& sets, const Build& b) {
  EncodedBuild e;
  const fs::path dir = c.output_dir / b.cache_dir();
  e.hasher = make_hasher(b);
  verify_manifest(dir / kModelManifest, dir, "cached model of " + b.id);
  e.hasher->load(dir);
  std::ifstream fit_file(dir / "fit.json");
  try {
    e.fit = json::parse(fit_file);
  } catch (const json::exception& ex) {
    throw Error((dir / "fit.json").string() + ": corrupt (" + ex.what() + "); rerun with --force");
  }
  const auto t0 = clock_type::now();
  e.query = e.hasher->encode(data, sets.query, c.threads);
  e.database = e.hasher->encode(data, sets.database, c.threads);
  e.encode_images_per_second =
      static_cast<double>(sets.query.size() + sets.database.size()) / seconds_since(t0);
  e.diagnostics = code_diagnostics(e.database.codes, e.database.real);
  // Per query set: the validation database lacks the validation items, so its graph differs.
  e.artefacts = std::make_unique<ArtefactStore>(dir / "artefacts" / c.queries);
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
      {"shortlist", c.shortlist},
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

// Metric names are not part of a cell's identity, so a metric added to a finished config
// re-runs nothing; say how to add it to the records that lack it.
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
  std::string names;
  for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
  log(
      fmt::format("{} finished cells lack {}: `hamster evaluate {} --metrics ...` adds them "
                  "from the stored rankings, without re-running",
                  lacking, names, c.output_dir.string()));
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
  fit_missing(c, data, split, pending_builds, opt.force, log);

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
  const auto start = clock_type::now();
  for (const Build* b : pending_builds) {
    EncodedBuild e = encode_build(c, data, sets, *b);
    log(fmt::format(
        "encode {}: {:.0f} images/s, {} distinct database codes, quantization error {:.4f}, "
        "bit balance {:.4f}, bit correlation {:.4f}",
        b->id, e.encode_images_per_second, e.diagnostics.distinct_codes,
        e.diagnostics.quantization_error, e.diagnostics.bit_balance,
        e.diagnostics.bit_correlation));
    for (const Perturbation& p : c.perturbations) {
      std::vector<const Cell*> todo;
      for (const Cell* cell : pending[b])
        if (cell->perturb == &p) todo.push_back(cell);
      if (todo.empty()) continue;
      // Perturbed queries go through the same trained model; the database codes are shared.
      const Encoded query = p.none() ? e.query
                                     : e.hasher->encode(perturbed_queries.at(p.label()),
                                                        all_positions(sets.query), c.threads);
      Stage1 s1;
      auto t0 = clock_type::now();
      s1.lists = hamming_knn(query.codes, e.database.codes, c.shortlist);
      s1.us_per_query = seconds_since(t0) * 1e6 / std::max<size_t>(1, s1.lists.size());
      t0 = clock_type::now();
      s1.evaluation = std::make_unique<HammingEvaluation>(query_labels, db_labels, query.codes,
                                                          e.database.codes, c.shortlist, c.eval);
      s1.evaluation_seconds = seconds_since(t0);
      for (const Cell* cell : todo) {
        json record = evaluate_cell(c, *cell, e, query, s1, sets, prov);
        append_record(c, record);  // after every cell: a crash loses at most one
        ++finished;
        const double elapsed = seconds_since(start);
        log(fmt::format("cell {}/{} {}: mAP@all {:.4f}  [ETA {:.0f}s]", finished, total, cell->id,
                        record["metrics"].value("mAP@all", 0.0),
                        elapsed / finished * (total - finished)));
      }
    }
    for (const auto& a : e.artefacts->entries())
      log(fmt::format("  shared artefact {} {} in {:.1f}s", a.key, a.from_disk ? "loaded" : "built",
                      a.seconds));
  }
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
    EncodedBuild e = encode_build(c, data, sets, *b);
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

int export_encodings(const ExperimentConfig& config, const std::string& filter,
                     const fs::path& out, std::ostream& stream) {
  Logger log(stream);
  const CellFilter parsed(filter);
  int exported = 0;
  for (size_t i = 0; i < config.datasets.size(); ++i)
    exported += export_dataset(for_dataset(config, i), parsed, out, log);
  if (exported == 0) throw Error("export: no build matches '" + filter + "'");
  return exported;
}

}  // namespace hamster
