#include "framework/experiment/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "framework/error.h"
#include "framework/experiment/markdown.h"
#include "framework/experiment/record_table.h"
#include "framework/experiment/result_store.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

Table build_table(const std::vector<json>& records, bool diagnostics) {
  Table t;
  t.header = {"hasher", "bits", "seed", "reranker", "L"};
  // A folder holding both tuning (validation) and test records says which is which.
  const bool mixed = std::any_of(records.begin(), records.end(), [](const json& r) {
    return r.value("queries_from", "test") != "test";
  });
  if (mixed) t.header.push_back("queries");
  // A grid with a perturb: axis says which queries each row saw.
  const bool perturbed = std::any_of(records.begin(), records.end(), [](const json& r) {
    return r.value("perturb", "none") != "none";
  });
  if (perturbed) t.header.push_back("perturb");
  // A grid over several datasets names each record's protocol (fmnist-1, cifar10, ...).
  const bool datasets = std::any_of(records.begin(), records.end(), [&](const json& r) {
    return r.value("protocol", "") != records.front().value("protocol", "");
  });
  if (datasets) t.header.insert(t.header.begin(), "dataset");
  // Every metric any record has: records written under other metric settings show blanks
  // where they computed nothing, never a made-up 0. A metric first seen in a later record
  // goes right after the one it follows there (mAP@10 after mAP@100), not at the end.
  std::vector<std::string> metrics;
  for (const auto& r : records) {
    auto after = metrics.begin();
    for (const auto& m : r.at("metric_order")) {
      const std::string name = m.get<std::string>();
      auto it = std::find(metrics.begin(), metrics.end(), name);
      if (it == metrics.end()) it = metrics.insert(after, name);
      after = it + 1;
    }
  }
  for (const auto& m : metrics) t.header.push_back(m);
  // Deep hashers: the training budget each ran under (epochs x batch, optimiser, lr), and
  // the epoch model selection kept with its validation mAP.
  auto has = [&](const char* field, const char* key) {
    return std::any_of(records.begin(), records.end(), [&](const json& r) {
      return r.contains(field) && r.at(field).contains(key);
    });
  };
  const bool budgets = has("hasher_effective_params", "epochs");
  const bool selected = has("fit_summary", "validation_map");
  if (budgets) t.header.insert(t.header.end(), {"budget", "chosen epoch"});
  if (selected) t.header.push_back("val mAP");
  // Code diagnostics (on request): record key under code_diagnostics, and header.
  const std::vector<std::pair<const char*, const char*>> code_columns = {
      {"quantization_error", "quant. error"},
      {"bit_balance", "bit balance"},
      {"bit_correlation", "bit corr."},
      {"distinct_codes", "distinct codes"}};
  if (diagnostics)
    for (const auto& [key, name] : code_columns) t.header.push_back(name);
  // Time columns: record key, header, and the factor the table shows it with.
  struct TimeColumn {
    const char* key;
    const char* name;
    double scale;
  };
  const std::vector<TimeColumn> times = {{"train_seconds", "train s", 1},
                                         {"train_images_per_second", "train img/s", 1},
                                         {"encode_images_per_second", "encode img/s", 1},
                                         {"stage1_us_per_query", "stage-1 us/q", 1},
                                         {"artefact_seconds", "artefacts s", 1},
                                         {"prepare_seconds", "prepare s", 1},
                                         {"rerank_us_per_query", "rerank ms/q", 1e-3}};
  for (const TimeColumn& col : times) t.header.push_back(col.name);
  for (const auto& r : records) {
    std::vector<std::string> row = {
        hasher_label(r), integer_field(r, "bits"), integer_field(r, "seed"),
        r.at("reranker_label").get<std::string>(), integer_field(r, "shortlist")};
    if (mixed) row.push_back(r.value("queries_from", "test"));
    if (perturbed) row.push_back(r.value("perturb", "none"));
    if (datasets) row.insert(row.begin(), r.value("protocol", ""));
    for (const auto& m : metrics)
      row.push_back(r.at("metrics").contains(m)
                        ? fmt::format("{:.4f}", r.at("metrics").at(m).get<double>())
                        : "");
    if (budgets) {
      const json p = r.value("hasher_effective_params", json::object());
      const json f = r.value("fit_summary", json::object());
      // Schedule, augmentation, backbone, weight decay, dropout and weight averaging are
      // part of the budget, shown where they are not the default (the numbers with a name:
      // "wd 0.0005"); records from before they existed ran with the default.
      struct Extra {
        const char *key, *fallback, *label;
      };
      std::string extras;
      for (const Extra& e :
           {Extra{"lr_schedule", "constant", ""}, Extra{"augment", "none", ""},
            Extra{"backbone", "small-cnn", ""}, Extra{"weight_decay", "0", "wd "},
            Extra{"dropout", "0", "dropout "}, Extra{"weight_average", "0", "avg "}}) {
        const std::string value = p.value(e.key, std::string(e.fallback));
        if (value != e.fallback) extras += " " + std::string(e.label) + value;
      }
      row.push_back(p.contains("epochs")
                        ? fmt::format("{}x{} {} {}{}", p.at("epochs").get<std::string>(),
                                      p.at("batch_size").get<std::string>(),
                                      p.at("optimiser").get<std::string>(),
                                      p.at("lr").get<std::string>(), extras)
                        : "");
      row.push_back(f.contains("chosen_epoch")
                        ? fmt::format("{:.0f}", f.at("chosen_epoch").get<double>())
                        : "");
    }
    if (selected) {
      const json f = r.value("fit_summary", json::object());
      row.push_back(f.contains("validation_map")
                        ? fmt::format("{:.4f}", f.at("validation_map").get<double>())
                        : "");
    }
    // Records from before the diagnostics existed show blanks.
    if (diagnostics)
      for (const auto& [key, name] : code_columns) {
        const json* v = nullptr;
        if (r.contains("code_diagnostics") && r.at("code_diagnostics").contains(key))
          v = &r.at("code_diagnostics").at(key);
        row.push_back(!v                       ? ""
                      : v->is_number_integer() ? std::to_string(v->get<int64_t>())
                                               : fmt::format("{:.4f}", v->get<double>()));
      }
    for (const TimeColumn& col : times) {
      const double v = r.at("times").value(col.key, 0.0) * col.scale;
      // A hasher that does not train on images (LSH) has no training speed: blank, not 0.
      if (v == 0 && std::string(col.key).rfind("train_", 0) == 0) {
        row.push_back("");
        continue;
      }
      row.push_back(v >= 100 ? fmt::format("{:.0f}", v)
                    : v >= 1 ? fmt::format("{:.2f}", v)
                             : fmt::format("{:.3f}", v));
    }
    t.rows.push_back(row);
  }
  return t;
}

std::string join(const std::vector<std::string>& cells, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) out += (i ? sep : "") + cells[i];
  return out;
}

}  // namespace

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$' || c == '{' || c == '}')
      out += std::string("\\") + c;
    else if (c == '<' || c == '>')  // text-mode < and > print as inverted marks (¡, ¿)
      out += std::string("$") + c + "$";
    else if (c == '\\')
      out += "\\textbackslash{}";
    else if (c == '^' || c == '~')
      out += std::string("\\") + c + "{}";
    else
      out += c;
  }
  return out;
}

namespace {

// The header positions the options keep: the cell's fields first (the first
// `fields` columns), then the chosen columns in order.
std::vector<size_t> chosen_columns(const Table& t, size_t fields, const TableOptions& o) {
  std::vector<size_t> keep;
  for (size_t c = 0; c < fields; ++c) {
    // L is one number for most folders (the config's shortlist): shown where it varies.
    const bool constant_l =
        t.header[c] == "L" && std::all_of(t.rows.begin(), t.rows.end(),
                                          [&](const auto& r) { return r[c] == t.rows.front()[c]; });
    if (o.wide || !constant_l) keep.push_back(c);
  }
  const auto position = [&](const std::string& name) {
    return static_cast<size_t>(std::find(t.header.begin(), t.header.end(), name) -
                               t.header.begin());
  };
  if (!o.columns.empty()) {
    for (const std::string& name : o.columns) {
      const size_t at = position(name);
      if (at >= t.header.size() || at < fields) {
        std::vector<std::string> known(t.header.begin() + fields, t.header.end());
        throw Error(
            fmt::format("unknown table column '{}' (known: {})", name, fmt::join(known, ", ")));
      }
      keep.push_back(at);
    }
    return keep;
  }
  if (o.wide) {
    for (size_t c = fields; c < t.header.size(); ++c) keep.push_back(c);
    return keep;
  }
  size_t precision = t.header.size();
  for (size_t c = fields; c < t.header.size(); ++c) {
    const std::string& h = t.header[c];
    if (h.rfind("mAP@", 0) == 0) keep.push_back(c);
    if (h.rfind("P@", 0) == 0 && h.find("H") == std::string::npos &&
        (precision == t.header.size() || h == "P@100"))
      precision = c;
  }
  if (precision < t.header.size()) keep.push_back(precision);
  static const char* kDiagnostics[] = {"quant. error", "bit balance", "bit corr.",
                                       "distinct codes"};
  if (o.diagnostics)
    for (const char* name : kDiagnostics) keep.push_back(position(name));
  keep.push_back(position("rerank ms/q"));
  return keep;
}

}  // namespace

std::string format_records(const std::vector<json>& records, const TableOptions& o,
                           const std::string& source) {
  if (o.format != "md" && o.format != "csv" && o.format != "latex")
    throw Error("unknown table format '" + o.format + "' (known: md, csv, latex)");
  Table full;
  try {
    full = build_table(records, o.diagnostics);
  } catch (const json::exception& e) {
    throw Error(source + ": record lacks a field (" + e.what() + ")");
  }
  const size_t fields =
      5 + std::count_if(full.header.begin(), full.header.end(), [](const std::string& h) {
        return h == "queries" || h == "dataset" || h == "perturb";
      });
  const std::vector<size_t> keep = chosen_columns(full, fields, o);
  Table t;
  for (size_t c : keep) t.header.push_back(full.header[c]);
  for (const auto& row : full.rows) {
    std::vector<std::string> cells;
    for (size_t c : keep) cells.push_back(row[c]);
    t.rows.push_back(std::move(cells));
  }
  // The cell's fields align left (bits, seed and L with them: they name the cell), the
  // measured columns right.
  const size_t text_columns =
      std::count_if(keep.begin(), keep.end(), [&](size_t c) { return c < fields; });
  std::string out;
  if (o.format == "csv") {
    out = join(t.header, ",") + "\n";
    for (auto row : t.rows) {
      for (auto& cell : row)
        if (cell.find(',') != std::string::npos) cell = "\"" + cell + "\"";
      out += join(row, ",") + "\n";
    }
  } else if (o.format == "md") {
    out = markdown_table(t.header, t.rows, text_columns);
  } else {
    out = "\\begin{tabular}{" + std::string(text_columns, 'l') +
          std::string(t.header.size() - text_columns, 'r') + "}\n\\toprule\n";
    std::vector<std::string> header;
    for (const auto& h : t.header) header.push_back(latex_escape(h));
    out += join(header, " & ") + " \\\\\n\\midrule\n";
    for (const auto& row : t.rows) {
      std::vector<std::string> cells;
      for (const auto& c : row) cells.push_back(latex_escape(c));
      out += join(cells, " & ") + " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n";
  }
  return out;
}

std::string format_records(const std::vector<json>& records, const std::string& format,
                           const std::string& source) {
  TableOptions o;
  o.format = format;
  o.wide = true;
  return format_records(records, o, source);
}

std::string format_table(const fs::path& dir, const TableOptions& options) {
  const ResultStore store(dir);
  return format_records(store.read(), options, store.file().string());
}

std::string format_table(const fs::path& dir, const std::string& format, bool diagnostics) {
  TableOptions o;
  o.format = format;
  o.wide = true;
  o.diagnostics = diagnostics;
  return format_table(dir, o);
}

}  // namespace hamster
