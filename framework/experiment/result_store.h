#pragma once
// The one owner of a results folder's record file, <dir>/results.jsonl: one JSON record per
// finished cell. The runner appends a record as each cell finishes, so a cell redone before
// the file is compacted appears more than once, and its last record is the one that counts.
// Every read and write of the file goes through ResultStore: the runner, `hamster table`,
// the pivot, `evaluate`, `merge`, `images` and the report. Internal to the experiment code
// (the rest of hamster never sees nlohmann::json).
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/experiment/cell_record.h"

namespace hamster {

class ResultStore {
 public:
  explicit ResultStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::filesystem::path file() const { return dir_ / "results.jsonl"; }
  bool exists() const;

  // The records that count, in file order: each cell once (at its last record); records
  // without a cell_key are kept as they are. Throws Error "no results at FILE" when there is
  // no file, and names the file and line of a record that does not parse.
  // Also refuses a record whose schema_version is newer than CellRecord's.
  std::vector<nlohmann::json> read() const;
  // read() as typed records; throws Error naming the file and the cell of a record that
  // lacks an identity field or holds one of the wrong type.
  std::vector<CellRecord> cells() const;

  // read() by cell_key, taken under the lock (another shard may be appending); empty when
  // there is no file yet. Throws Error naming the file for a record without a cell_key.
  std::map<std::string, nlohmann::json> by_cell_key() const;

  // Appends one finished cell under the lock: O(record) per cell, so a grid of thousands of
  // cells writes each record once (rewriting the file after every cell made it O(cells^2)).
  void append(const CellRecord& record) const;

  // Under the lock: `edit` gets read()'s records and changes them as it likes (a new order,
  // new metrics), returning whether it changed anything; then the file is rewritten
  // atomically, with results.csv derived from it, when `edit` changed something, when the
  // file held a cell twice, or when results.csv is missing. Throws Error "no results at
  // FILE" when there is no file.
  void rewrite(const std::function<bool(std::vector<nlohmann::json>&)>& edit) const;

  // `records` (as read() gives them) by cell_key. Throws Error naming the file for a record
  // without a cell_key (not written by hamster run).
  std::map<std::string, nlohmann::json> keyed(std::vector<nlohmann::json> records) const;

  // Writes `records` as a new folder's file (`hamster merge`), atomically, with results.csv.
  void replace(const std::vector<nlohmann::json>& records) const;

 private:
  // Shards of one grid may run as concurrent processes on one folder, and `hamster
  // evaluate` rewrites it: every change happens inside f, under an exclusive lock on
  // <dir>/results.lock. Throws Error naming the lock file if it cannot be taken.
  void locked(const std::function<void()>& f) const;

  std::filesystem::path dir_;
};

// The integer field `key` of a record, as text. Records hold bits, seed and shortlist as
// JSON integers; anything else (a float such as 1e300, whose conversion to an integer is
// undefined, or a string) throws nlohmann::json::type_error, as a missing field throws
// out_of_range, for the caller to report with the file's name.
std::string integer_field(const nlohmann::json& record, const char* key);

}  // namespace hamster
