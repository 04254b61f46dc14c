#pragma once
// The ablation table of a results folder: chosen fields as rows and columns, one metric,
// mean ± std over seeds, the best value of each row (or column) marked.
#include <filesystem>
#include <string>
#include <vector>

namespace hamster {

struct PivotSpec {
  std::vector<std::string> rows = {"hasher", "bits"};
  std::vector<std::string> cols = {"reranker"};
  std::string metric = "mAP@all";
  std::string format = "md";  // md, csv or latex
  // Only records whose field has this value, e.g. {"queries", "test"}.
  std::vector<std::pair<std::string, std::string>> where;
  // Which best mean is bold: "row" (the best re-ranker of each hasher, as an ablation is
  // read), "col", or "" for row when re-rankers are the columns and col otherwise.
  std::string best;
};

// Fields rows and cols may name: hasher (its label, with the parameters written for it),
// bits, seed, reranker (label), dataset, protocol, queries (test|validation), L, perturb
// (the queries' perturbation, "none" for clean ones), and any
// metric or diagnostic is not a field. Seeds are averaged (std is the sample standard
// deviation; one seed shows no ±). Any other field that varies inside one table cell is an
// error naming it, never averaged silently. The best mean of each row or column (`best`) is
// bold in md and LaTeX (booktabs); csv gives "<col> mean" and "<col> std" columns and no marks.
// Rows and columns follow the config: bits, seed and L by value, the named fields (hasher,
// reranker, ...) in the order the results first name them.
std::string format_pivot(const std::filesystem::path& results_dir, const PivotSpec& spec);

}  // namespace hamster
