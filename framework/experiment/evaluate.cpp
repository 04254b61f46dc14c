#include "framework/experiment/evaluate.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/provenance.h"
#include "framework/experiment/raw_results.h"
#include "framework/experiment/record_items.h"
#include "framework/experiment/result_store.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

enum class Kind { kMap, kPrecision, kRecall };

struct Metric {
  Kind kind;
  int64_t k;  // kAll = all
  std::string name() const {
    const char* prefix = kind == Kind::kMap ? "mAP@" : kind == Kind::kPrecision ? "P@" : "R@";
    return prefix + (k == kAll ? std::string("all") : std::to_string(k));
  }
};

// "mAP@100" -> {kMap, 100}; false for names evaluate cannot compute (tie-mAP, P@H<=2).
bool parse_metric_name(const std::string& name, Metric& m) {
  const auto at = name.find('@');
  if (at == std::string::npos) return false;
  const std::string prefix = name.substr(0, at), k = name.substr(at + 1);
  if (prefix == "mAP") {
    m.kind = Kind::kMap;
  } else if (prefix == "P") {
    m.kind = Kind::kPrecision;
  } else if (prefix == "R") {
    m.kind = Kind::kRecall;
  } else {
    return false;
  }
  if (k == "all") return m.k = kAll, true;
  if (k.empty() || k.find_first_not_of("0123456789") != std::string::npos) return false;
  m.k = std::stoll(k);
  return m.k > 0;
}

std::vector<Metric> requested(const MetricRequest& r) {
  std::vector<Metric> out;
  for (int64_t k : r.map_at) out.push_back({Kind::kMap, k});
  for (int64_t k : r.precision_at) out.push_back({Kind::kPrecision, k});
  for (int64_t k : r.recall_at) out.push_back({Kind::kRecall, k});
  return out;
}

// Everything one record is scored against: its dataset's labels and its query and
// database items. Loaded once per dataset and once per split file and query set.
class Sources {
 public:
  explicit Sources(const fs::path& dir) : dir_(dir) {}

  const Dataset& dataset(const json& r) {
    auto& slot = datasets_[r.at("dataset").dump() + r.value("dataset_source", json()).dump()];
    if (!slot) slot = std::make_unique<Dataset>(load_record_dataset(r));
    return *slot;
  }

  const EvaluationSets& sets(const json& r) {
    const std::string file = r.at("split_file").get<std::string>();
    const std::string queries = r.value("queries_from", "test");
    auto& slot = sets_[file + "|" + queries];
    if (!slot) {
      ExperimentConfig c;
      c.queries = queries;
      slot = std::make_unique<EvaluationSets>(evaluation_sets(c, load_split(dir_ / file)));
    }
    return *slot;
  }

  // Per query of the record's query set: its relevant items in the whole database.
  const std::vector<int64_t>& total_relevant(const json& r, const Dataset& data,
                                             const EvaluationSets& sets) {
    const std::string key = r.at("split_file").get<std::string>() + "|" +
                            r.value("queries_from", "test") + "|" + r.at("dataset").dump() +
                            r.at("dataset_source").dump();
    auto& slot = totals_[key];
    if (slot.empty()) {
      for (int64_t q : sets.query) {
        int64_t total = 0;
        for (int64_t j : sets.database) total += relevant(data.labels[q], data.labels[j]);
        slot.push_back(total);
      }
    }
    return slot;
  }

 private:
  fs::path dir_;
  std::map<std::string, std::unique_ptr<Dataset>> datasets_;
  std::map<std::string, std::unique_ptr<EvaluationSets>> sets_;
  std::map<std::string, std::vector<int64_t>> totals_;
};

// The mean over queries of each metric, per-query values summed in query order as the
// runner sums them, so a recomputed value equals the stored one exactly.
std::vector<double> score(const RawResults& raw, const Dataset& data,
                          const std::vector<int64_t>& total_relevant,
                          const std::vector<Metric>& metrics) {
  std::vector<double> sums(metrics.size(), 0.0);
  std::vector<uint8_t> rel(raw.top);
  for (int64_t q = 0; q < raw.queries(); ++q) {
    const LabelSet& query = data.labels[raw.query_items[q]];
    const int32_t* row = raw.row(q);
    for (int64_t i = 0; i < raw.top; ++i) rel[i] = relevant(query, data.labels[row[i]]) ? 1 : 0;
    for (size_t m = 0; m < metrics.size(); ++m) {
      const int64_t k = metrics[m].k;
      sums[m] += metrics[m].kind == Kind::kMap ? average_precision_at(rel.data(), raw.top, k)
                 : metrics[m].kind == Kind::kPrecision
                     ? precision_at(rel.data(), raw.top, k)
                     : recall_at(rel.data(), raw.top, k, total_relevant[q]);
    }
  }
  for (double& s : sums) s /= static_cast<double>(raw.queries());
  return sums;
}

// Checks that the raw file belongs to the record and to this split, so that no number is
// computed from a stale or foreign ranking.
void check_raw(const RawResults& raw, const json& r, const EvaluationSets& sets,
               const std::string& where) {
  if (raw.queries() != r.at("queries").get<int64_t>() ||
      raw.top != r.at("shortlist").get<int64_t>())
    throw Error(fmt::format("{}: raw results hold {} queries x L = {}, the record says {} x {}",
                            where, raw.queries(), raw.top, r.at("queries").get<int64_t>(),
                            r.at("shortlist").get<int64_t>()));
  if (static_cast<int64_t>(sets.database.size()) != r.at("database").get<int64_t>())
    throw Error(fmt::format("{}: the split has {} database items, the record says {}", where,
                            sets.database.size(), r.at("database").get<int64_t>()));
  for (int64_t q = 0; q < raw.queries(); ++q)
    if (raw.query_items[q] != sets.query[q])
      throw Error(fmt::format("{}: query {} is item {} in the raw results but {} in the split",
                              where, q, raw.query_items[q], sets.query[q]));
  std::set<int64_t> database(sets.database.begin(), sets.database.end());
  for (int64_t i = 0; i < raw.queries() * raw.top; ++i)
    if (!database.count(raw.ranked[i]))
      throw Error(fmt::format("{}: query {} ranks item {}, which is not in the split's database",
                              where, i / std::max<int64_t>(1, raw.top), raw.ranked[i]));
}

// A new metric goes after the last one of its kind (mAP@100, then mAP@20), or before the
// Hamming-only ones, so tables list mAP@k, P@k and R@k together.
void insert_in_order(json& order, const Metric& metric) {
  size_t at = order.size();
  for (size_t i = 0; i < order.size(); ++i) {
    Metric m;
    const std::string name = order[i].get<std::string>();
    if (parse_metric_name(name, m) && m.kind == metric.kind) at = i + 1;
    if (at == order.size() && (name == "tie-mAP" || name.rfind("P@H", 0) == 0)) at = i;
  }
  order.insert(order.begin() + static_cast<std::ptrdiff_t>(at), metric.name());
}

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

MetricRequest parse_metric_request(const std::string& text) {
  MetricRequest request;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(';', start), text.size());
    const std::string term = text.substr(start, end - start);
    start = end + 1;
    if (term.empty()) continue;
    const size_t eq = term.find('=');
    const std::string key = term.substr(0, eq);
    std::vector<int64_t>* list = key == "map_at"         ? &request.map_at
                                 : key == "precision_at" ? &request.precision_at
                                 : key == "recall_at"    ? &request.recall_at
                                                         : nullptr;
    if (eq == std::string::npos || !list)
      throw Error("--metrics: '" + term +
                  "' is not key=k1,k2 with key map_at, precision_at or recall_at");
    std::string values = term.substr(eq + 1) + ",";
    for (size_t p = 0, comma; (comma = values.find(',', p)) != std::string::npos; p = comma + 1) {
      const std::string k = values.substr(p, comma - p);
      Metric m;
      if (k == "all") {
        list->push_back(kAll);
      } else if (parse_metric_name("P@" + k, m) && m.k != kAll) {
        list->push_back(m.k);
      } else {
        throw Error("--metrics: " + key + ": expected a positive integer or 'all', got '" + k +
                    "'");
      }
    }
  }
  return request;
}

size_t evaluate_results(const fs::path& dir, const MetricRequest& request, std::ostream& log) {
  const ResultStore store(dir);
  const fs::path file = store.file();
  size_t cells = 0;
  store.rewrite([&](std::vector<json>& records) {
    Sources sources(dir);
    const Provenance prov = collect_provenance();
    std::set<std::string> recomputed, kept;
    size_t changed = 0;
    for (json& r : records) {
      const std::string cell = r.value("cell", r.value("cell_key", "?"));
      const std::string where = file.string() + ": cell " + cell;
      if (!r.contains("raw"))
        throw Error(where +
                    ": no raw results (written before hamster stored them); run its config "
                    "again with --force to store them");
      const Dataset& data = sources.dataset(r);
      const EvaluationSets& sets = sources.sets(r);
      const RawResults raw = read_raw_results(dir / r.at("raw").get<std::string>());
      check_raw(raw, r, sets, where);
      const auto n = static_cast<int64_t>(sets.database.size());

      std::vector<Metric> metrics = requested(request);
      if (request.empty())
        for (const auto& name : r.at("metric_order")) {
          Metric m;
          const auto k = parse_metric_name(name.get<std::string>(), m) ? m.k : -1;
          if (k >= 0 && (k == kAll ? n : std::min(k, n)) <= raw.top) {
            metrics.push_back(m);
          } else {
            kept.insert(name.get<std::string>());
          }
        }
      for (const Metric& m : metrics) {
        const int64_t k = m.k == kAll ? n : std::min(m.k, n);
        if (k > raw.top)
          throw Error(fmt::format(
              "{}: {} needs the ranking to rank {} but the raw results keep the top L = {} "
              "(of {} database items); from them evaluate computes mAP@k, P@k and R@k for "
              "k <= {} (run with a larger shortlist for more)",
              where, m.name(), k, raw.top, n, raw.top));
      }
      const std::vector<double> values =
          score(raw, data, sources.total_relevant(r, data, sets), metrics);
      json& stored = r["metrics"];
      json names = json::array();
      for (size_t m = 0; m < metrics.size(); ++m) {
        const std::string name = metrics[m].name();
        if (stored.contains(name)) {
          changed += stored[name].get<double>() != values[m];
        } else {
          insert_in_order(r["metric_order"], metrics[m]);
        }
        stored[name] = values[m];
        recomputed.insert(name);
        names.push_back(name);
      }
      r["evaluated"] = {
          {"metrics", names}, {"git_sha", prov.git_sha}, {"timestamp", prov.timestamp}};
    }
    cells = records.size();
    log << fmt::format("evaluate {}: {} cells from their stored top-L rankings; computed {}",
                       dir.string(), cells, recomputed.empty() ? "nothing" : join(recomputed));
    if (!kept.empty()) log << "; kept as stored (they need more than the top L): " << join(kept);
    log << fmt::format("; {} stored values changed\n", changed);
    return true;  // every record now names this evaluation
  });
  return cells;
}

}  // namespace hamster
