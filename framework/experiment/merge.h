#pragma once
// Merging result folders written by separate processes or machines (--shard I/N on a
// cluster): the records of every input, each cell once, in one new folder.
#include <filesystem>
#include <string>
#include <vector>

namespace hamster {

// Writes <out>/results.jsonl (each cell once, inputs in the order given), results.csv and
// split.txt. Every input must hold a results.jsonl; inputs with a split.txt must agree on
// it (else the shards ran different splits: an error naming both files). A cell present
// in several inputs must have the same value of every metric they both hold, else the
// error names the cell and both folders (codes trained on different machine kinds
// differ: see docs/guide.md); a metric only one holds (added by `hamster evaluate`) is kept.
// The cells' raw rankings are copied to <out>/raw/; trained models stay in each input's
// cache/. Returns the number of cells written.
size_t merge_results(const std::vector<std::filesystem::path>& inputs,
                     const std::filesystem::path& out);

}  // namespace hamster
