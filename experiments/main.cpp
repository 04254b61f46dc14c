// The hamster command line: run experiments, print tables, list plugins, export encodings.
#include <CLI/CLI.hpp>
#include <iostream>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/results.h"
#include "framework/experiment/runner.h"
#include "framework/hasher.h"
#include "framework/reranker.h"

namespace {

template <class Reg>
void print_plugins(const std::string& title, const Reg& registry) {
  std::cout << title << ":\n";
  for (const auto& [name, entry] : registry.entries()) {
    std::cout << "  " << name << " - " << entry.help << "\n";
    for (const auto& p : entry.params)
      std::cout << "      " << p.name << " (default " << p.default_value << "): " << p.help << "\n";
  }
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hamster: Hamming search, then re-rank"};
  app.require_subcommand(1);

  std::string config_file, filter, shard, results_dir, format = "md", out_dir = "export";
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

  auto* list = app.add_subcommand("list", "list hashers and re-rankers with their parameters");
  auto* datasets = app.add_subcommand("datasets", "list datasets and split protocols");

  auto* exp = app.add_subcommand("export", "write codes, embeddings and labels as .npy files");
  exp->add_option("config", config_file, "experiment config (YAML)")->required();
  exp->add_option("--filter", filter, "only builds whose id contains this, e.g. dsh/32b");
  exp->add_option("--out", out_dir, "output folder (default: export)");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*run) {
      if (!shard.empty() && !parse_shard(shard, opt)) {
        std::cerr << "error: --shard expects I/N, got '" << shard << "'\n";
        return 2;
      }
      const auto config = hamster::load_config(config_file);
      hamster::run_experiment(config, opt, std::cerr);
      if (!opt.dry_run) std::cout << hamster::format_table(config.output_dir, "md");
    } else if (*table) {
      std::cout << hamster::format_table(results_dir, format);
    } else if (*list) {
      print_plugins("hashers", hamster::HasherRegistry::instance());
      print_plugins("rerankers", hamster::RerankerRegistry::instance());
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
