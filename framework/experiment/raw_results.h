#pragma once
// The raw result of one grid cell: per query, the final top-L database items (after
// re-ranking), so that metrics can be computed again, or added, without re-running
// anything (`hamster evaluate`).
//
// File: results/<name>/raw/<cell key>.bin.gz, gzip of little-endian int32 values:
//   "HRAW" (4 bytes), version (1), n_queries, L,
//   n_queries query items, then n_queries x L database items, row-major, best first.
// Items are indices into the dataset as loaded (the numbers split.txt holds), so a row can
// be drawn or scored without the split at hand.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace hamster {

struct RawResults {
  std::vector<int32_t> query_items;  // n_queries
  int64_t top = 0;                   // L: items kept per query
  std::vector<int32_t> ranked;       // n_queries x top, row-major, best first

  int64_t queries() const { return static_cast<int64_t>(query_items.size()); }
  const int32_t* row(int64_t q) const { return ranked.data() + q * top; }
};

// Writes atomically (temp file, then rename). Throws Error if ranked is not queries x top.
void write_raw_results(const std::filesystem::path& file, const RawResults& raw);

// Throws Error naming the file when it is missing, not gzip, has another magic or
// version, or is truncated.
RawResults read_raw_results(const std::filesystem::path& file);

}  // namespace hamster
