#pragma once
// Reading results.jsonl: one JSON record per finished cell. Internal to the experiment
// code (the rest of hamster never sees nlohmann::json).
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/experiment/results.h"

namespace hamster {

// The records of `file` in order; none if the file does not exist. Throws Error naming
// the file and line of a record that does not parse.
std::vector<nlohmann::json> read_records(const std::filesystem::path& file);

// Shards of one grid may run as concurrent processes on one folder, and `hamster evaluate`
// rewrites it: every change to <dir>/results.jsonl happens inside f, under an exclusive
// lock on <dir>/results.lock. Throws Error naming the lock file if it cannot be taken.
void with_results_lock(const std::filesystem::path& dir, const std::function<void()>& f);

// The integer field `key` of a record, as text. Records hold bits, seed and shortlist as
// JSON integers; anything else (a float such as 1e300, whose conversion to an integer is
// undefined, or a string) throws nlohmann::json::type_error, as a missing field throws
// out_of_range, for the caller to report with the file's name.
std::string integer_field(const nlohmann::json& record, const char* key);

// results.jsonl is appended to, so a cell redone before the file was compacted appears
// more than once: its last record is the one that counts. The records in file order, each
// cell once (at its last record); records without a cell_key are kept as they are.
std::vector<nlohmann::json> latest_records(std::vector<nlohmann::json> records);

// The table of `records` (framework/experiment/results.h says what options choose);
// `source` names them in errors.
std::string format_records(const std::vector<nlohmann::json>& records, const TableOptions& options,
                           const std::string& source);
// The wide table, every column (results.csv).
std::string format_records(const std::vector<nlohmann::json>& records, const std::string& format,
                           const std::string& source);

// Escapes the characters LaTeX treats specially in table text (_ % & #).
std::string latex_escape(const std::string& text);

}  // namespace hamster
