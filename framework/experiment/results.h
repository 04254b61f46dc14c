#pragma once
// Result tables from <results_dir>/results.jsonl.
#include <filesystem>
#include <string>

namespace hamster {

// format: md, csv or latex. With `diagnostics`, the code diagnostics of each build
// (quantization error, bit balance, bit correlation, distinct codes) follow the metrics.
// Throws Error naming the file if it is missing or corrupt.
std::string format_table(const std::filesystem::path& results_dir, const std::string& format,
                         bool diagnostics = false);

}  // namespace hamster
