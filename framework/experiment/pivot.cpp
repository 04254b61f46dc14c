#include "framework/experiment/pivot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "framework/error.h"
#include "framework/experiment/markdown.h"
#include "framework/experiment/record_table.h"
#include "framework/experiment/result_store.h"

namespace hamster {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kFields = {"hasher",   "bits",    "seed", "reranker", "dataset",
                                          "protocol", "queries", "L",    "perturb"};

std::string field_of(const json& r, const std::string& field) {
  if (field == "hasher") return hasher_label(r);
  if (field == "bits") return integer_field(r, "bits");
  if (field == "seed") return integer_field(r, "seed");
  if (field == "reranker") return r.at("reranker_label").get<std::string>();
  if (field == "dataset") return r.value("dataset", "");
  if (field == "protocol") return r.value("protocol", "");
  if (field == "queries") return r.value("queries_from", "test");
  if (field == "L") return integer_field(r, "shortlist");
  if (field == "perturb") return r.value("perturb", "none");
  throw Error("unknown table field '" + field + "'");
}

// Row and column order: numeric fields (bits, seed, L) by value; named ones (hasher,
// reranker, dataset, ...) in the order they first appear in the results, which is the
// order the config listed them: "none" before "feature", aqe(n=5) before aqe(n=10).
class FieldOrder {
 public:
  explicit FieldOrder(std::vector<std::string> fields) : fields_(std::move(fields)) {}

  // Remembers a key's parts (and each part's first appearance); returns the joined key.
  std::string add(const json& r) {
    std::vector<std::string> parts;
    for (const auto& f : fields_) {
      parts.push_back(field_of(r, f));
      auto& seen = first_seen_[f];
      seen.emplace(parts.back(), seen.size());  // rank = values seen before it
    }
    std::string key;
    for (const auto& p : parts) key += (key.empty() ? "" : " ") + p;
    parts_.emplace(key, std::move(parts));
    return key;
  }

  // The field values a joined key was made of.
  const std::vector<std::string>& parts(const std::string& key) const { return parts_.at(key); }

  bool less(const std::string& a, const std::string& b) const {
    const auto& x = parts_.at(a);
    const auto& y = parts_.at(b);
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (x[i] == y[i]) continue;
      if (is_numeric(fields_[i])) return std::stod(x[i]) < std::stod(y[i]);
      const auto& seen = first_seen_.at(fields_[i]);
      return seen.at(x[i]) < seen.at(y[i]);
    }
    return false;
  }

 private:
  static bool is_numeric(const std::string& f) { return f == "bits" || f == "seed" || f == "L"; }

  std::vector<std::string> fields_;
  std::map<std::string, std::map<std::string, size_t>> first_seen_;  // field -> value -> rank
  std::map<std::string, std::vector<std::string>> parts_;            // key -> field values
};

struct Stats {
  double mean = 0, std = 0;
  size_t n = 0;
};

Stats stats_of(const std::vector<double>& v) {
  Stats s;
  s.n = v.size();
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(s.n);
  if (s.n > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(s.n - 1));
  }
  return s;
}

}  // namespace

std::string format_pivot(const std::filesystem::path& dir, const PivotSpec& spec) {
  if (!spec.best.empty() && spec.best != "row" && spec.best != "col")
    throw Error("--best is row or col, got '" + spec.best + "'");
  if (spec.format != "md" && spec.format != "csv" && spec.format != "latex")
    throw Error("unknown table format '" + spec.format + "' (known: md, csv, latex)");
  if (spec.rows.empty() || spec.cols.empty()) throw Error("--rows and --cols must name fields");
  std::set<std::string> used;
  for (const auto* list : {&spec.rows, &spec.cols})
    for (const auto& f : *list) {
      if (std::find(kFields.begin(), kFields.end(), f) == kFields.end())
        throw Error("unknown table field '" + f +
                    "' (known: hasher, bits, seed, reranker, "
                    "dataset, protocol, queries, L, perturb)");
      if (!used.insert(f).second) throw Error("table field '" + f + "' named twice");
    }
  for (const auto& [f, v] : spec.where)
    if (std::find(kFields.begin(), kFields.end(), f) == kFields.end())
      throw Error("unknown table field '" + f + "' in --where");
  const ResultStore store(dir);
  const std::filesystem::path file = store.file();
  const std::vector<json> records = store.read();

  std::vector<std::string> others;  // must not vary inside a cell
  for (const auto& f : kFields)
    if (!used.count(f) && f != "seed") others.push_back(f);

  // One value per seed in each cell: the newest record's. Two records of one seed in one
  // cell are the same experiment run under other effective parameters (a default changed in
  // the code since the older one ran), not two samples to average.
  struct Sample {
    std::string timestamp;  // ISO 8601, so text order is time order
    double value;
  };
  std::map<std::pair<std::string, std::string>, std::map<std::string, Sample>> samples;
  int superseded = 0;
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> seen;
  std::vector<std::string> row_keys, col_keys;
  FieldOrder row_order(spec.rows), col_order(spec.cols);
  bool metric_found = false;
  try {
    for (const json& r : records) {
      if (std::any_of(spec.where.begin(), spec.where.end(),
                      [&](const auto& w) { return field_of(r, w.first) != w.second; }))
        continue;
      const std::string row = row_order.add(r), col = col_order.add(r);
      for (const auto& f : others) {
        auto [it, fresh] = seen[{row, col}].emplace(f, field_of(r, f));
        if (!fresh && it->second != field_of(r, f))
          throw Error(file.string() + ": " + f + " varies inside the cell (" + row + ", " + col +
                      "): '" + it->second + "' and '" + field_of(r, f) +
                      "'; add it to --rows or --cols");
      }
      if (!r.at("metrics").contains(spec.metric)) continue;
      metric_found = true;
      const Sample sample{r.value("provenance", json::object()).value("timestamp", std::string()),
                          r.at("metrics").at(spec.metric).get<double>()};
      auto [it, fresh] = samples[{row, col}].emplace(field_of(r, "seed"), sample);
      if (!fresh) {
        ++superseded;
        if (sample.timestamp >= it->second.timestamp) it->second = sample;
      }
      if (std::find(row_keys.begin(), row_keys.end(), row) == row_keys.end())
        row_keys.push_back(row);
      if (std::find(col_keys.begin(), col_keys.end(), col) == col_keys.end())
        col_keys.push_back(col);
    }
  } catch (const json::exception& e) {
    throw Error(file.string() + ": record lacks a field (" + e.what() + ")");
  }
  if (!metric_found) {
    std::string known;
    // What the first record offers, as far as it says (the records were read unchecked).
    const json order = !records.empty() && records.front().is_object()
                           ? records.front().value("metric_order", json())
                           : json();
    if (order.is_array())
      for (const auto& m : order)
        if (m.is_string()) known += (known.empty() ? "" : ", ") + m.get<std::string>();
    throw Error(file.string() + ": no record has metric '" + spec.metric + "' (known: " + known +
                ")");
  }
  std::map<std::pair<std::string, std::string>, std::vector<double>> values;
  for (const auto& [k, by_seed] : samples)
    for (const auto& [seed, sample] : by_seed) values[k].push_back(sample.value);
  std::stable_sort(row_keys.begin(), row_keys.end(),
                   [&](const auto& a, const auto& b) { return row_order.less(a, b); });
  std::stable_sort(col_keys.begin(), col_keys.end(),
                   [&](const auto& a, const auto& b) { return col_order.less(a, b); });

  const std::string by =
      !spec.best.empty()                                                             ? spec.best
      : std::find(spec.cols.begin(), spec.cols.end(), "reranker") != spec.cols.end() ? "row"
                                                                                     : "col";
  std::map<std::pair<std::string, std::string>, Stats> stats;
  std::map<std::string, double> best;  // per row or per column
  const auto line_of = [&](const std::pair<std::string, std::string>& k) {
    return by == "row" ? k.first : k.second;
  };
  for (const auto& [k, v] : values) {
    stats[k] = stats_of(v);
    auto it = best.find(line_of(k));
    if (it == best.end() || stats[k].mean > it->second) best[line_of(k)] = stats[k].mean;
  }
  auto text = [&](const std::string& row, const std::string& col, bool mark,
                  const std::string& bold_open, const std::string& bold_close,
                  const std::string& pm) {
    auto it = stats.find({row, col});
    if (it == stats.end()) return std::string();
    const Stats& s = it->second;
    std::string t = s.n > 1 ? fmt::format("{:.4f} {} {:.4f}", s.mean, pm, s.std)
                            : fmt::format("{:.4f}", s.mean);
    if (mark && s.mean == best.at(line_of({row, col}))) t = bold_open + t + bold_close;
    return t;
  };
  // One column per row field (hasher, bits, ...), so a paper's table and a data frame get
  // them apart.
  const size_t fields = spec.rows.size();
  std::string out;
  if (spec.format == "csv") {
    const auto cell = [](const std::string& t) {
      return t.find(',') != std::string::npos ? "\"" + t + "\"" : t;
    };
    for (const auto& f : spec.rows) out += f + ",";
    for (size_t i = 0; i < col_keys.size(); ++i)
      out += cell(col_keys[i] + " mean") + "," + cell(col_keys[i] + " std") +
             (i + 1 < col_keys.size() ? "," : "");
    out += "\n";
    for (const auto& r : row_keys) {
      for (const auto& part : row_order.parts(r)) out += cell(part) + ",";
      for (size_t i = 0; i < col_keys.size(); ++i) {
        auto it = stats.find({r, col_keys[i]});
        // One seed has no spread: its std is left blank, not written as 0.
        out += it == stats.end()  ? ","
               : it->second.n > 1 ? fmt::format("{:.6f},{:.6f}", it->second.mean, it->second.std)
                                  : fmt::format("{:.6f},", it->second.mean);
        if (i + 1 < col_keys.size()) out += ",";
      }
      out += "\n";
    }
  } else if (spec.format == "md") {
    out = fmt::format("{} over seeds (mean ± std); best of each {} in bold\n\n", spec.metric,
                      by == "row" ? "row" : "column");
    std::vector<std::string> header = spec.rows;
    header.insert(header.end(), col_keys.begin(), col_keys.end());
    std::vector<std::vector<std::string>> lines;
    for (const auto& r : row_keys) {
      lines.push_back(row_order.parts(r));
      for (const auto& c : col_keys) lines.back().push_back(text(r, c, true, "**", "**", "±"));
    }
    out += markdown_table(header, lines, fields);
    if (superseded > 0)
      out += fmt::format(
          "\n{} older record{} left out: same cell and seed as a newer one, other effective "
          "parameters (a default changed since)\n",
          superseded, superseded > 1 ? "s" : "");
  } else {
    out = "\\begin{tabular}{" + std::string(fields, 'l') + std::string(col_keys.size(), 'r') +
          "}\n\\toprule\n";
    std::vector<std::string> header;
    for (const auto& f : spec.rows) header.push_back(latex_escape(f));
    for (const auto& c : col_keys) header.push_back(latex_escape(c));
    for (size_t i = 0; i < header.size(); ++i) out += (i ? " & " : "") + header[i];
    out += " \\\\\n\\midrule\n";
    for (const auto& r : row_keys) {
      const auto& parts = row_order.parts(r);
      for (size_t i = 0; i < parts.size(); ++i) out += (i ? " & " : "") + latex_escape(parts[i]);
      for (const auto& c : col_keys) out += " & " + text(r, c, true, "\\textbf{", "}", "$\\pm$");
      out += " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n";
  }
  return out;
}

}  // namespace hamster
