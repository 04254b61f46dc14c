// The hamster command line: run experiments, print tables, list plugins, export encodings.
#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/evaluate.h"
#include "framework/experiment/export.h"
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

// Each subcommand is an options struct that CLI11 fills, a function that declares its
// options, and a function that runs it; main() only wires them together.

struct RunCommand {
  std::string config, shard;
  hamster::RunOptions opt;
};

CLI::App* add_run(CLI::App& app, RunCommand& o) {
  auto* cmd = app.add_subcommand("run", "run an experiment grid from a YAML config");
  cmd->add_option("config", o.config, "experiment config (YAML)")->required();
  cmd->add_flag("--dry-run", o.opt.dry_run, "list the cells to run, run nothing");
  cmd->add_flag("--force", o.opt.force,
                "retrain the models of the matching cells and redo all of their cells");
  cmd->add_option("--filter", o.opt.filter,
                  "only matching cells: key=value terms (hasher=dsh,bits=32,reranker=feature) "
                  "or text the cell id contains");
  cmd->add_option("--shard", o.shard, "I/N: run every N-th build starting at I");
  return cmd;
}

int run_command(RunCommand o) {
  if (!o.shard.empty() && !parse_shard(o.shard, o.opt)) {
    std::cerr << "error: --shard expects I/N, got '" << o.shard << "'\n";
    return 2;
  }
  const auto config = hamster::load_config(o.config);
  hamster::run_experiment(config, o.opt, std::cerr);
  if (!o.opt.dry_run) print_compact_table(config.output_dir);
  return 0;
}

struct TableCommand {
  std::string results_dir, format, columns;
  hamster::TableOptions table;
  std::string rows, cols, metric, where, best;  // a pivot when any is given
};

CLI::App* add_table(CLI::App& app, TableCommand& o) {
  auto* cmd = app.add_subcommand("table", "print the result table of a results folder");
  cmd->add_option("results_dir", o.results_dir, "e.g. results/quickstart")->required();
  cmd->add_option("--format", o.format, "md, csv or latex");
  cmd->add_option("--rows", o.rows,
                  "pivot: fields as rows, e.g. hasher,bits (fields: hasher, bits, seed, "
                  "reranker, dataset, protocol, queries, L)");
  cmd->add_option("--cols", o.cols, "pivot: fields as columns, e.g. reranker");
  cmd->add_option("--metric", o.metric, "pivot: the metric shown, mean ± std over seeds");
  cmd->add_option("--where", o.where, "pivot: only records with field=value[,field=value]");
  cmd->add_option("--best", o.best,
                  "pivot: bold the best of each row or col (default: row when re-rankers are "
                  "the columns)");
  cmd->add_flag("--diagnostics", o.table.diagnostics,
                "add the code diagnostics of each build: quantization error, bit balance, "
                "bit correlation, distinct database codes");
  cmd->add_flag("--wide", o.table.wide,
                "every column (training, encoding and stage-1 times, every metric), as "
                "results.csv; default: the compact table");
  cmd->add_option("--columns", o.columns,
                  "the columns after the cell's fields, by header name, e.g. "
                  "'mAP@1000,P@100,rerank ms/q'");
  return cmd;
}

int table_command(TableCommand o) {
  if (o.rows.empty() && o.cols.empty() && o.metric.empty() && o.where.empty() && o.best.empty()) {
    if (!o.format.empty()) o.table.format = o.format;
    if (!o.columns.empty()) o.table.columns = split_list(o.columns);
    std::cout << hamster::format_table(o.results_dir, o.table);
    return 0;
  }
  hamster::PivotSpec spec;
  if (!o.rows.empty()) spec.rows = split_list(o.rows);
  if (!o.cols.empty()) spec.cols = split_list(o.cols);
  if (!o.metric.empty()) spec.metric = o.metric;
  spec.best = o.best;
  if (!o.format.empty()) spec.format = o.format;
  if (!o.where.empty())
    for (const auto& term : split_list(o.where)) {
      const size_t eq = term.find('=');
      if (eq == std::string::npos)
        throw hamster::Error("--where expects field=value terms, got '" + term + "'");
      spec.where.emplace_back(term.substr(0, eq), term.substr(eq + 1));
    }
  std::cout << hamster::format_pivot(o.results_dir, spec);
  return 0;
}

struct MergeCommand {
  std::vector<std::string> inputs;
  std::string out;
};

CLI::App* add_merge(CLI::App& app, MergeCommand& o) {
  auto* cmd = app.add_subcommand("merge", "merge result folders (e.g. shards from other machines)");
  cmd->add_option("inputs", o.inputs, "result folders")->required();
  cmd->add_option("--out", o.out, "the merged folder")->required();
  return cmd;
}

int merge_command(const MergeCommand& o) {
  const std::vector<std::filesystem::path> inputs(o.inputs.begin(), o.inputs.end());
  const size_t cells = hamster::merge_results(inputs, o.out);
  std::cerr << "merged " << cells << " cells from " << inputs.size() << " folders into " << o.out
            << "\n";
  print_compact_table(o.out);
  return 0;
}

struct EvaluateCommand {
  std::string results_dir;
  std::vector<std::string> metrics;
};

CLI::App* add_evaluate(CLI::App& app, EvaluateCommand& o) {
  auto* cmd = app.add_subcommand(
      "evaluate", "recompute or add metrics from the stored rankings, without re-running");
  cmd->add_option("results_dir", o.results_dir, "e.g. results/quickstart")->required();
  cmd->add_option("--metrics", o.metrics,
                  "e.g. 'map_at=100;precision_at=10,50;recall_at=100' (cut-offs up to the "
                  "shortlist L; all only when L is the database size); default: every "
                  "mAP@k, P@k, R@k the records hold that their top L allows");
  return cmd;
}

int evaluate_command(const EvaluateCommand& o) {
  std::string terms;
  for (const auto& t : o.metrics) terms += t + ";";
  hamster::evaluate_results(o.results_dir, hamster::parse_metric_request(terms), std::cerr);
  // Every metric, the new ones with them: what evaluate was asked to show.
  std::cout << hamster::format_table(o.results_dir, "md");
  return 0;
}

struct ImagesCommand {
  std::string results_dir, items, cell, out;
};

CLI::App* add_images(CLI::App& app, ImagesCommand& o) {
  auto* cmd = app.add_subcommand(
      "images", "write dataset items of a results folder as .npy (for the retrieval grid)");
  cmd->add_option("results_dir", o.results_dir, "e.g. results/quickstart")->required();
  cmd->add_option("--items", o.items, "dataset item indices, e.g. 3,17,42")->required();
  cmd->add_option("--cell", o.cell, "the cell whose dataset to read (default: the first)");
  cmd->add_option("--out", o.out, "folder for images.npy and labels.npy")->required();
  return cmd;
}

int images_command(const ImagesCommand& o) {
  std::vector<int64_t> ids;
  for (const auto& text : split_list(o.items)) {
    size_t used = 0;
    try {
      ids.push_back(std::stoll(text, &used));
    } catch (const std::exception&) {
    }
    if (used == 0 || used != text.size())
      throw hamster::Error("--items expects item indices joined by commas, got '" + text + "'");
  }
  hamster::dump_items(o.results_dir, o.cell, ids, o.out);
  return 0;
}

struct ReportCommand {
  std::string results_dir, out;
  hamster::ReportOptions report;
};

CLI::App* add_report(CLI::App& app, ReportCommand& o) {
  auto* cmd = app.add_subcommand("report",
                                 "one self-contained HTML page: tables, figures, retrieval grids");
  cmd->add_option("results_dir", o.results_dir, "e.g. results/quickstart")->required();
  cmd->add_option("--out", o.out, "the page (default: RESULTS_DIR/report.html)");
  cmd->add_option("--grids", o.report.grids, "retrieval grids on the page (default 3)");
  return cmd;
}

int report_command(ReportCommand o) {
  o.report.out = o.out;
  // The grids' images come from this very binary (`hamster images`).
  o.report.hamster = std::filesystem::read_symlink("/proc/self/exe");
  std::cout << hamster::write_report(o.results_dir, o.report).string() << "\n";
  return 0;
}

struct ListCommand {
  std::string plugin;
};

CLI::App* add_list(CLI::App& app, ListCommand& o) {
  auto* cmd =
      app.add_subcommand("list", "list hashers and re-rankers; with NAME, one plugin's parameters");
  cmd->add_option("name", o.plugin, "a hasher or re-ranker, e.g. diffusion");
  return cmd;
}

int list_command(const ListCommand& o) {
  if (o.plugin.empty()) {
    print_plugins("hashers", hamster::HasherRegistry::instance());
    print_plugins("rerankers", hamster::RerankerRegistry::instance());
    print_plugins("stage-1 searches (stage1: NAME; all exact)",
                  hamster::Stage1Registry::instance());
    std::cout << "`hamster list NAME` shows a plugin's parameters\n";
  } else if (!print_plugin("hasher", o.plugin, hamster::HasherRegistry::instance()) &&
             !print_plugin("re-ranker", o.plugin, hamster::RerankerRegistry::instance()) &&
             !print_plugin("stage-1 search", o.plugin, hamster::Stage1Registry::instance())) {
    throw hamster::Error("no plugin '" + o.plugin + "' (known: " + known_plugins() + ")");
  }
  return 0;
}

CLI::App* add_datasets(CLI::App& app) {
  return app.add_subcommand("datasets", "list datasets and split protocols");
}

int datasets_command() {
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
  return 0;
}

struct ExportCommand {
  std::string config, filter, out = "export";
};

CLI::App* add_export(CLI::App& app, ExportCommand& o) {
  auto* cmd = app.add_subcommand("export", "write codes, embeddings and labels as .npy files");
  cmd->add_option("config", o.config, "experiment config (YAML)")->required();
  cmd->add_option("--filter", o.filter,
                  "only matching builds: key=value terms (hasher=dsh,bits=32; keys hasher, bits, "
                  "seed, protocol) or text the build id contains");
  cmd->add_option("--out", o.out, "output folder (default: export)");
  return cmd;
}

int export_command(const ExportCommand& o) {
  const auto config = hamster::load_config(o.config);
  hamster::export_encodings(config, o.filter, o.out, std::cerr);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hamster: Hamming search, then re-rank"};
  app.require_subcommand(0, 1);
  RunCommand run;
  TableCommand table;
  MergeCommand merge;
  EvaluateCommand evaluate;
  ImagesCommand images;
  ReportCommand report;
  ListCommand list;
  ExportCommand exp;
  // In the order `hamster --help` lists them.
  const std::vector<std::pair<CLI::App*, std::function<int()>>> commands = {
      {add_run(app, run), [&] { return run_command(run); }},
      {add_table(app, table), [&] { return table_command(table); }},
      {add_merge(app, merge), [&] { return merge_command(merge); }},
      {add_evaluate(app, evaluate), [&] { return evaluate_command(evaluate); }},
      {add_images(app, images), [&] { return images_command(images); }},
      {add_report(app, report), [&] { return report_command(report); }},
      {add_list(app, list), [&] { return list_command(list); }},
      {add_datasets(app), [] { return datasets_command(); }},
      {add_export(app, exp), [&] { return export_command(exp); }},
  };
  CLI11_PARSE(app, argc, argv);
  try {
    for (const auto& [cmd, execute] : commands)
      if (*cmd) return execute();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cout << app.help();  // a bare `hamster`: what it can do
  return 0;
}
