#include "framework/experiment/run_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "framework/error.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/model_cache.h"
#include "framework/graph/shared.h"
#include "framework/reranker.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

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

}  // namespace

const json* record_of(const std::map<std::string, json>& records, const Cell& cell) {
  auto it = records.find(cell.key);
  if (it == records.end()) it = records.find(cell.legacy_key);
  return it == records.end() ? nullptr : &it->second;
}

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

// `hamster evaluate` adds a metric from the stored top-L rankings; --force where the cut-off
// needs more than the top L.
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

std::vector<std::string> artefact_plan(const ExperimentConfig& c, const Build& b,
                                       const std::vector<const Cell*>& cells, bool force) {
  std::vector<std::vector<std::string>> lists;
  for (const Cell* cell : cells)
    lists.push_back(RerankerRegistry::instance()
                        .create(cell->reranker->name, cell->reranker->values())
                        ->artefacts());
  // A model without its manifest is refitted, and its folder (artefacts too) replaced.
  const bool kept = !force && has_model(c, b);
  const fs::path dir = artefact_dir(c, b);
  std::vector<std::string> lines;
  for (const std::string& key : unique_keys(lists)) {
    const bool cached = kept && fs::exists(dir / key);
    lines.push_back(fmt::format("artefact {}: {}", key, cached ? "cached" : "not cached"));
  }
  return lines;
}

}  // namespace hamster
