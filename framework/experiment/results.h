#pragma once
// Result tables from <results_dir>/results.jsonl.
#include <filesystem>
#include <string>
#include <vector>

namespace hamster {

struct TableOptions {
  std::string format = "md";  // md, csv or latex
  // Every column (results.csv has them all). Otherwise the compact table: the cell's fields
  // (hasher, bits, seed, re-ranker; L, dataset, queries, perturb where they vary), every
  // mAP, P@100 (or the first P@ metric) and the re-ranking time.
  bool wide = false;
  // The columns after the cell's fields, by their header names ("mAP@1000,rerank ms/q");
  // empty: the compact or wide set. An unknown name is an error listing the known ones.
  std::vector<std::string> columns;
  // The code diagnostics of each build (quantization error, bit balance, bit correlation,
  // distinct database codes) after the metrics.
  bool diagnostics = false;
};

// Throws Error naming the file if it is missing or corrupt.
std::string format_table(const std::filesystem::path& results_dir, const TableOptions& options);

// The wide table (every column) in `format`.
std::string format_table(const std::filesystem::path& results_dir, const std::string& format,
                         bool diagnostics = false);

}  // namespace hamster
