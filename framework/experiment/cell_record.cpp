#include "framework/experiment/cell_record.h"

#include <fmt/format.h>

#include <limits>
#include <type_traits>

#include "framework/error.h"
#include "framework/experiment/config.h"

namespace hamster {
using json = nlohmann::json;

const double* CellRecord::metric(const std::string& name) const {
  for (const auto& [n, v] : metrics)
    if (n == name) return &v;
  return nullptr;
}

namespace {

// Every field stored as one JSON value, as f(object, key, field) with object "" for the top
// level. Writing and reading both walk this one list, so they cannot drift apart; metrics
// and artefacts, which are not one value a field, are written and read apart.
template <class Record, class F>
void for_each_field(Record& r, F&& f) {
  for (const auto& [key, field] : {std::pair{"cell_key", &r.cell_key},
                                   {"cell", &r.cell},
                                   {"experiment", &r.experiment},
                                   {"dataset", &r.dataset},
                                   {"protocol", &r.protocol},
                                   {"queries_from", &r.queries_from},
                                   {"perturb", &r.perturb},
                                   {"hasher", &r.hasher},
                                   {"reranker", &r.reranker},
                                   {"reranker_label", &r.reranker_label},
                                   {"raw", &r.raw},
                                   {"split_file", &r.split_file}})
    f("", key, *field);
  f("", "schema_version", r.schema_version);
  f("", "split_seed", r.split_seed);
  f("", "queries", r.queries);
  f("", "database", r.database);
  f("", "bits", r.bits);
  f("", "seed", r.seed);
  f("", "shortlist", r.shortlist);
  for (const auto& [key, params] : {std::pair{"hasher_params", &r.hasher_params},
                                    {"hasher_budget", &r.hasher_budget},
                                    {"hasher_effective_params", &r.hasher_effective_params},
                                    {"reranker_params", &r.reranker_params},
                                    {"reranker_effective_params", &r.reranker_effective_params}})
    f("", key, *params);
  for (const auto& [key, object] : {std::pair{"fit_summary", &r.fit_summary},
                                    {"reranker_diagnostics", &r.reranker_diagnostics},
                                    {"dataset_source", &r.dataset_source}})
    f("", key, *object);
  f("stage1", "search", r.stage1_search);
  f("stage1", "ran", r.stage1_ran);
  f("pr_curve", "radius_precision", r.radius_precision);
  f("pr_curve", "radius_recall", r.radius_recall);
  auto& d = r.code_diagnostics;
  // Also at the top level: older readers (and tables' `distinct` column) take it there.
  f("", "distinct_database_codes", d.distinct_codes);
  for (const auto& [key, value] : {std::pair{"quantization_error", &d.quantization_error},
                                   {"bit_balance", &d.bit_balance},
                                   {"bit_correlation", &d.bit_correlation}})
    f("code_diagnostics", key, *value);
  f("code_diagnostics", "distinct_codes", d.distinct_codes);
  auto& t = r.times;
  for (const auto& [key, seconds] : {std::pair{"train_seconds", &t.train_seconds},
                                     {"train_images_per_second", &t.train_images_per_second},
                                     {"encode_images_per_second", &t.encode_images_per_second},
                                     {"stage1_us_per_query", &t.stage1_us_per_query},
                                     {"stage1_evaluation_seconds", &t.stage1_evaluation_seconds},
                                     {"rerank_us_per_query", &t.rerank_us_per_query},
                                     {"prepare_seconds", &t.prepare_seconds},
                                     {"artefact_seconds", &t.artefact_seconds}})
    f("times", key, *seconds);
  f("times", "fit_threads", t.fit_threads);
  auto& p = r.provenance;
  for (const auto& [key, text] : {std::pair{"git_sha", &p.git_sha},
                                  {"config_hash", &p.config_hash},
                                  {"build_key", &p.build_key},
                                  {"versions", &p.versions},
                                  {"host", &p.host},
                                  {"cpu_model", &p.cpu_model},
                                  {"cpu_flags", &p.cpu_flags},
                                  {"hamming_kernel", &p.hamming_kernel},
                                  {"timestamp", &p.timestamp}})
    f("provenance", key, *text);
  f("provenance", "git_dirty", p.git_dirty);
  f("provenance", "threads", p.threads);
}

// The fields a record cannot do without: what identifies its cell.
bool required(const std::string& object, const std::string& key) {
  return object.empty() && (key == "cell_key" || key == "cell" || key == "hasher" ||
                            key == "bits" || key == "seed" || key == "reranker");
}

}  // namespace

int schema_version_of(const json& record) {
  if (!record.is_object() || !record.contains("schema_version")) return 1;
  const json& v = record.at("schema_version");
  if (!v.is_number_integer() || v.get<int64_t>() < 1)
    throw Error("record schema_version: expected a whole number >= 1, got " + v.dump());
  if (v.get<int64_t>() > CellRecord::kSchemaVersion)
    throw Error(fmt::format(
        "record schema_version {} is newer than this hamster reads ({}); update hamster",
        v.get<int64_t>(), CellRecord::kSchemaVersion));
  return static_cast<int>(v.get<int64_t>());
}

std::string hasher_label(const json& record) {
  return plugin_label(record.at("hasher").get<std::string>(),
                      record.at("hasher_params").get<std::map<std::string, std::string>>());
}

json to_json(const CellRecord& r) {
  json j = json::object();
  for_each_field(r, [&](const std::string& object, const char* key, const auto& field) {
    (object.empty() ? j : j[object])[key] = field;
  });
  json metrics = json::object(), order = json::array();
  for (const auto& [name, value] : r.metrics) {
    metrics[name] = value;
    order.push_back(name);
  }
  j["metrics"] = metrics;
  j["metric_order"] = order;
  j["artefacts"] = json::array();
  for (const CellRecord::Artefact& a : r.artefacts)
    j["artefacts"].push_back({{"key", a.key}, {"seconds", a.seconds}, {"from_disk", a.from_disk}});
  return j;
}

CellRecord cell_record_from_json(const json& j) {
  CellRecord r;
  r.schema_version = schema_version_of(j);
  // Absent fields keep their defaults: records written by an older hamster lack the newer.
  for_each_field(r, [&](const std::string& object, const char* key, auto& field) {
    const json* value = nullptr;
    if (object.empty() ? j.contains(key) || required(object, key)
                       : j.contains(object) && j.at(object).contains(key))
      value = object.empty() ? &j.at(key) : &j.at(object).at(key);
    if (!value) return;
    // JSON has no NaN: a float that was NaN (a diverged fit's diagnostics) is written null.
    using Field = std::decay_t<decltype(field)>;
    if constexpr (std::is_floating_point_v<Field>)
      if (value->is_null()) return void(field = std::numeric_limits<Field>::quiet_NaN());
    value->get_to(field);
  });
  if (!j.contains("reranker_label")) r.reranker_label = r.reranker;

  // Metrics in metric_order, then any the order does not name (hand-edited records).
  const json& metrics = j.at("metrics");
  for (const json& name : j.value("metric_order", json::array()))
    if (metrics.contains(name.get<std::string>()))
      r.metrics.emplace_back(name.get<std::string>(),
                             metrics.at(name.get<std::string>()).get<double>());
  for (const auto& [name, value] : metrics.items())
    if (!r.metric(name)) r.metrics.emplace_back(name, value.get<double>());
  for (const json& a : j.value("artefacts", json::array()))
    r.artefacts.push_back(
        {a.at("key").get<std::string>(), a.value("seconds", 0.0), a.value("from_disk", false)});
  return r;
}

}  // namespace hamster
