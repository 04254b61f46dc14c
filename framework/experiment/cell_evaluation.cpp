#include "framework/experiment/cell_evaluation.h"

#include <algorithm>

#include "framework/experiment/logger.h"
#include "framework/experiment/model_cache.h"
#include "framework/experiment/raw_results.h"
#include "framework/reranker.h"
#include "framework/stage1.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Where a cell's raw results go, relative to the results folder.
std::string raw_path(const Cell& cell) { return "raw/" + cell.key + ".bin.gz"; }

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

}  // namespace

// `threads` does not change the codes (tests/test_hashers.cpp encodes on 1 and on 2 threads;
// hashers.yaml's DSH 64 gave the same record both ways); it keeps an evaluation beside a
// running fit to that fit's share of the cores.
EncodedBuild encode_build(const ExperimentConfig& c, const Dataset& data,
                          const EvaluationSets& sets, const Build& b, CachedModel model,
                          int threads) {
  EncodedBuild e;
  e.hasher = std::move(model.hasher);
  e.fit = std::move(model.fit);
  const auto t0 = clock_type::now();
  e.query = e.hasher->encode(data, sets.query, threads);
  e.database = e.hasher->encode(data, sets.database, threads);
  e.encode_images_per_second =
      static_cast<double>(sets.query.size() + sets.database.size()) / seconds_since(t0);
  e.diagnostics = code_diagnostics(e.database.codes, e.database.real);
  // Per query set: the validation database lacks the validation items, so its graph differs.
  e.artefacts = std::make_unique<ArtefactStore>(artefact_dir(c, b));
  return e;
}

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

std::string split_file(const ExperimentConfig& c) {
  return c.id_prefix.empty() ? "split.txt" : "split-" + c.protocol + ".txt";
}

Stage1 search_stage1(const ExperimentConfig& c, const Encoded& query, const EncodedBuild& e,
                     const std::vector<LabelSet>& query_labels,
                     const std::vector<LabelSet>& db_labels) {
  Stage1 s1;
  Stage1Run run = run_stage1(c.stage1, query.codes, e.database.codes, c.shortlist);
  s1.lists = std::move(run.lists);
  s1.ran = run.ran;
  s1.us_per_query = run.us_per_query;
  const auto t0 = clock_type::now();
  s1.evaluation = std::make_unique<HammingEvaluation>(query_labels, db_labels, query.codes,
                                                      e.database.codes, c.shortlist, c.eval);
  s1.evaluation_seconds = seconds_since(t0);
  return s1;
}

CellRecord evaluate_cell(const ExperimentConfig& c, const Cell& cell, const EncodedBuild& e,
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

  CellRecord r;
  for (const ArtefactStore::Entry& a : e.artefacts->take_requests()) {
    r.artefacts.push_back({a.key, a.seconds, a.from_disk});
    r.times.artefact_seconds += a.seconds;
  }
  std::vector<Shortlist> lists = s1.lists;
  t0 = clock_type::now();
  reranker->rerank(query, lists);
  r.times.rerank_us_per_query = seconds_since(t0) * 1e6 / std::max<size_t>(1, lists.size());
  const Evaluation ev = s1.evaluation->score(lists);
  // Before the record is appended: a record never names a raw file that is not there.
  write_raw_results(c.output_dir / raw_path(cell), final_rankings(sets, s1.lists, lists));

  const Build& b = *cell.build;
  r.cell_key = cell.key;
  r.cell = cell.id;
  r.experiment = c.name;
  r.dataset = c.dataset;
  r.protocol = c.protocol;
  r.queries_from = c.queries;
  r.split_seed = c.split_seed;
  r.queries = static_cast<int64_t>(query.codes.size());
  r.perturb = cell.perturb->label();
  r.database = static_cast<int64_t>(e.database.codes.size());
  r.hasher = b.hasher->name;
  r.hasher_params = b.hasher->params;
  r.hasher_budget = b.hasher->budget;
  r.hasher_effective_params =
      Params(b.hasher->values(), HasherRegistry::instance().entry(b.hasher->name).params,
             b.hasher->name)
          .values();
  r.fit_summary = e.fit.value("summary", json::object());
  r.bits = b.bits;
  r.seed = b.seed;
  r.reranker = cell.reranker->name;
  r.reranker_label = cell.reranker->label();
  r.reranker_params = cell.reranker->params;
  r.reranker_effective_params =
      Params(cell.reranker->values(),
             RerankerRegistry::instance().entry(cell.reranker->name).params, cell.reranker->name)
          .values();
  r.reranker_diagnostics = reranker->diagnostics();
  r.shortlist = c.shortlist;
  r.stage1_search = c.stage1;
  r.stage1_ran = s1.ran;
  r.raw = raw_path(cell);
  r.split_file = split_file(c);
  r.dataset_source = dataset_source(c);
  r.metrics = ev.metrics;
  r.radius_precision = ev.pr_precision;
  r.radius_recall = ev.pr_recall;
  r.code_diagnostics = e.diagnostics;
  CellRecord::Times& t = r.times;
  t.train_seconds = e.fit.value("train_seconds", 0.0);
  t.train_images_per_second = e.fit.value("train_images_per_second", 0.0);
  t.fit_threads = e.fit.value("fit_threads", 0);
  t.encode_images_per_second = e.encode_images_per_second;
  t.stage1_us_per_query = s1.us_per_query;
  t.stage1_evaluation_seconds = s1.evaluation_seconds;
  t.prepare_seconds = std::max(0.0, prepare_seconds);
  r.provenance = {prov.git_sha,   prov.git_dirty,      c.hash,        b.key,
                  prov.versions,  c.threads,           prov.host,     prov.cpu_model,
                  prov.cpu_flags, prov.hamming_kernel, prov.timestamp};
  return r;
}

}  // namespace hamster
