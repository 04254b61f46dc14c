// The hamster command line: run experiments, print tables, list plugins, export encodings.
#include <CLI/CLI.hpp>
#include <iostream>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/evaluate.h"
#include "framework/experiment/merge.h"
#include "framework/experiment/pivot.h"
#include "framework/experiment/record_items.h"
#include "framework/experiment/report.h"
#include "framework/experiment/results.h"
#include "framework/experiment/runner.h"
#include "framework/hasher.h"
#include "framework/reranker.h"
#include "framework/stage1.h"

namespace {

// One line per plugin: name and what it is. Each plugin's parameters: `hamster list NAME`.
template <class Reg>
void print_plugins(const std::string& title, const Reg& registry) {
  std::cout << title << ":\n";
  size_t width = 0;
  for (const auto& [name, entry] : registry.entries()) width = std::max(width, name.size());
  for (const auto& [name, entry] : registry.entries()) {
    // The help's title, before its first ": " (the rest is in `hamster list NAME`).
    const std::string title = entry.help.substr(0, entry.help.find(": "));
    std::cout << "  " << name << std::string(width - name.size() + 2, ' ') << title << "\n";
  }
}

// One plugin's help and parameters; false when `registry` has no plugin `name`.
template <class Reg>
bool print_plugin(const std::string& kind, const std::string& name, const Reg& registry) {
  const auto& entries = registry.entries();
  const auto it = entries.find(name);
  if (it == entries.end()) return false;
  std::cout << name << " (" << kind << "): " << it->second.help << "\nparameters:\n";
  for (const auto& p : it->second.params)
    std::cout << "  " << p.name
              << (p.default_value.empty() ? " (required)" : " (default " + p.default_value + ")")
              << ": " << p.help << "\n";
  return true;
}

// Every registered name, for an error message.
std::string known_plugins() {
  std::string out;
  for (const auto& [name, entry] : hamster::HasherRegistry::instance().entries())
    out += (out.empty() ? "" : ", ") + name;
  for (const auto& [name, entry] : hamster::RerankerRegistry::instance().entries())
    out += ", " + name;
  for (const auto& name : hamster::stage1_names()) out += ", " + name;
  return out;
}

bool parse_shard(const std::string& text, hamster::RunOptions& opt) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return false;
  // Whole numbers only: stoi alone would read "1/2x" as 1/2.
  try {
    size_t used_i = 0, used_n = 0;
    const std::string i = text.substr(0, slash), n = text.substr(slash + 1);
    opt.shard = std::stoi(i, &used_i);
    opt.shards = std::stoi(n, &used_n);
    return used_i == i.size() && used_n == n.size();
  } catch (const std::exception&) {
    return false;
  }
}

// "a,b,c" -> {a, b, c}
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0, comma;
  while ((comma = text.find(',', start)) != std::string::npos) {
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  out.push_back(text.substr(start));
  return out;
}

// After a run or a merge: the compact table, and where the rest is.
void print_compact_table(const std::filesystem::path& dir) {
  std::cout << hamster::format_table(dir, hamster::TableOptions{});
  std::cerr << "every column: hamster table " << dir.string() << " --wide (or "
            << (dir / "results.csv").string() << "); a pivot: --rows hasher,bits --cols reranker\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hamster: Hamming search, then re-rank"};
  app.require_subcommand(0, 1);

  std::string config_file, filter, shard, results_dir, format, out_dir = "export";
  hamster::RunOptions opt;
  auto* run = app.add_subcommand("run", "run an experiment grid from a YAML config");
  run->add_option("config", config_file, "experiment config (YAML)")->required();
  run->add_flag("--dry-run", opt.dry_run, "list the cells to run, run nothing");
  run->add_flag("--force", opt.force,
                "retrain the models of the matching cells and redo all of their cells");
  run->add_option("--filter", opt.filter,
                  "only matching cells: key=value terms (hasher=dsh,bits=32,reranker=feature) "
                  "or text the cell id contains");
  run->add_option("--shard", shard, "I/N: run every N-th build starting at I");

  auto* table = app.add_subcommand("table", "print the result table of a results folder");
  table->add_option("results_dir", results_dir, "e.g. results/quickstart")->required();
  table->add_option("--format", format, "md, csv or latex");
  std::string rows, cols, metric;
  table->add_option("--rows", rows,
                    "pivot: fields as rows, e.g. hasher,bits (fields: hasher, bits, seed, "
                    "reranker, dataset, protocol, queries, L)");
  table->add_option("--cols", cols, "pivot: fields as columns, e.g. reranker");
  table->add_option("--metric", metric, "pivot: the metric shown, mean ± std over seeds");
  std::string where;
  table->add_option("--where", where, "pivot: only records with field=value[,field=value]");
  std::string best;
  table->add_option("--best", best,
                    "pivot: bold the best of each row or col (default: row when re-rankers are "
                    "the columns)");

  std::vector<std::string> merge_inputs;
  std::string merge_out;
  auto* merge =
      app.add_subcommand("merge", "merge result folders (e.g. shards from other machines)");
  merge->add_option("inputs", merge_inputs, "result folders")->required();
  merge->add_option("--out", merge_out, "the merged folder")->required();
  hamster::TableOptions table_opt;
  table->add_flag("--diagnostics", table_opt.diagnostics,
                  "add the code diagnostics of each build: quantization error, bit balance, "
                  "bit correlation, distinct database codes");
  table->add_flag("--wide", table_opt.wide,
                  "every column (training, encoding and stage-1 times, every metric), as "
                  "results.csv; default: the compact table");
  std::string columns;
  table->add_option("--columns", columns,
                    "the columns after the cell's fields, by header name, e.g. "
                    "'mAP@1000,P@100,rerank ms/q'");

  std::vector<std::string> metric_terms;
  auto* evaluate = app.add_subcommand(
      "evaluate", "recompute or add metrics from the stored rankings, without re-running");
  evaluate->add_option("results_dir", results_dir, "e.g. results/quickstart")->required();
  evaluate->add_option("--metrics", metric_terms,
                       "e.g. 'map_at=100;precision_at=10,50;recall_at=100' (cut-offs up to the "
                       "shortlist L; all only when L is the database size); default: every "
                       "mAP@k, P@k, R@k the records hold that their top L allows");

  std::string cell, items;
  auto* images = app.add_subcommand(
      "images", "write dataset items of a results folder as .npy (for the retrieval grid)");
  images->add_option("results_dir", results_dir, "e.g. results/quickstart")->required();
  images->add_option("--items", items, "dataset item indices, e.g. 3,17,42")->required();
  images->add_option("--cell", cell, "the cell whose dataset to read (default: the first)");
  images->add_option("--out", out_dir, "folder for images.npy and labels.npy")->required();

  hamster::ReportOptions report_opt;
  std::string report_out;
  auto* report = app.add_subcommand(
      "report", "one self-contained HTML page: tables, figures, retrieval grids");
  report->add_option("results_dir", results_dir, "e.g. results/quickstart")->required();
  report->add_option("--out", report_out, "the page (default: RESULTS_DIR/report.html)");
  report->add_option("--grids", report_opt.grids, "retrieval grids on the page (default 3)");

  std::string plugin;
  auto* list =
      app.add_subcommand("list", "list hashers and re-rankers; with NAME, one plugin's parameters");
  list->add_option("name", plugin, "a hasher or re-ranker, e.g. diffusion");
  auto* datasets = app.add_subcommand("datasets", "list datasets and split protocols");

  auto* exp = app.add_subcommand("export", "write codes, embeddings and labels as .npy files");
  exp->add_option("config", config_file, "experiment config (YAML)")->required();
  exp->add_option("--filter", filter,
                  "only matching builds: key=value terms (hasher=dsh,bits=32; keys hasher, bits, "
                  "seed, protocol) or text the build id contains");
  exp->add_option("--out", out_dir, "output folder (default: export)");

  CLI11_PARSE(app, argc, argv);
  if (app.get_subcommands().empty()) {  // a bare `hamster`: what it can do
    std::cout << app.help();
    return 0;
  }
  try {
    if (*run) {
      if (!shard.empty() && !parse_shard(shard, opt)) {
        std::cerr << "error: --shard expects I/N, got '" << shard << "'\n";
        return 2;
      }
      const auto config = hamster::load_config(config_file);
      hamster::run_experiment(config, opt, std::cerr);
      if (!opt.dry_run) print_compact_table(config.output_dir);
    } else if (*table) {
      if (rows.empty() && cols.empty() && metric.empty() && where.empty() && best.empty()) {
        if (!format.empty()) table_opt.format = format;
        if (!columns.empty()) table_opt.columns = split_list(columns);
        std::cout << hamster::format_table(results_dir, table_opt);
      } else {
        hamster::PivotSpec spec;
        if (!rows.empty()) spec.rows = split_list(rows);
        if (!cols.empty()) spec.cols = split_list(cols);
        if (!metric.empty()) spec.metric = metric;
        spec.best = best;
        if (!format.empty()) spec.format = format;
        if (!where.empty())
          for (const auto& term : split_list(where)) {
            const size_t eq = term.find('=');
            if (eq == std::string::npos)
              throw hamster::Error("--where expects field=value terms, got '" + term + "'");
            spec.where.emplace_back(term.substr(0, eq), term.substr(eq + 1));
          }
        std::cout << hamster::format_pivot(results_dir, spec);
      }
    } else if (*evaluate) {
      std::string terms;
      for (const auto& t : metric_terms) terms += t + ";";
      hamster::evaluate_results(results_dir, hamster::parse_metric_request(terms), std::cerr);
      // Every metric, the new ones with them: what evaluate was asked to show.
      std::cout << hamster::format_table(results_dir, "md");
    } else if (*report) {
      report_opt.out = report_out;
      // The grids' images come from this very binary (`hamster images`).
      report_opt.hamster = std::filesystem::read_symlink("/proc/self/exe");
      std::cout << hamster::write_report(results_dir, report_opt).string() << "\n";
    } else if (*images) {
      std::vector<int64_t> ids;
      for (const auto& text : split_list(items)) {
        size_t used = 0;
        try {
          ids.push_back(std::stoll(text, &used));
        } catch (const std::exception&) {
        }
        if (used == 0 || used != text.size())
          throw hamster::Error("--items expects item indices joined by commas, got '" + text + "'");
      }
      hamster::dump_items(results_dir, cell, ids, out_dir);
    } else if (*merge) {
      std::vector<std::filesystem::path> inputs(merge_inputs.begin(), merge_inputs.end());
      const size_t cells = hamster::merge_results(inputs, merge_out);
      std::cerr << "merged " << cells << " cells from " << inputs.size() << " folders into "
                << merge_out << "\n";
      print_compact_table(merge_out);
    } else if (*list) {
      if (plugin.empty()) {
        print_plugins("hashers", hamster::HasherRegistry::instance());
        print_plugins("rerankers", hamster::RerankerRegistry::instance());
        print_plugins("stage-1 searches (stage1: NAME; all exact)",
                      hamster::Stage1Registry::instance());
        std::cout << "`hamster list NAME` shows a plugin's parameters\n";
      } else if (!print_plugin("hasher", plugin, hamster::HasherRegistry::instance()) &&
                 !print_plugin("re-ranker", plugin, hamster::RerankerRegistry::instance()) &&
                 !print_plugin("stage-1 search", plugin, hamster::Stage1Registry::instance())) {
        throw hamster::Error("no plugin '" + plugin + "' (known: " + known_plugins() + ")");
      }
    } else if (*datasets) {
      std::cout << "datasets (protocols, the first the default; dataset.* options):\n";
      for (const auto& d : hamster::dataset_specs()) {
        std::cout << "  " << d.name << ": " << d.help << "\n    protocols:";
        for (const auto& p : d.protocols) std::cout << " " << p;
        if (!d.options.empty()) std::cout << "\n    options:";
        for (const auto& o : d.options) std::cout << " " << o;
        std::cout << "\n";
      }
      std::cout << "protocols:\n";
      for (const auto& p : hamster::split_protocols()) std::cout << "  " << p << "\n";
      std::cout << "  stratified (single-label; split: query_per_class, train_per_class, "
                   "database_includes_train)\n"
                << "  per-concept (multi-label; split: query_per_class, train_per_class)\n";
    } else if (*exp) {
      const auto config = hamster::load_config(config_file);
      hamster::export_encodings(config, filter, out_dir, std::cerr);
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
