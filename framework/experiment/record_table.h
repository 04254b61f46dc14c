#pragma once
// Tables of records already read (framework/experiment/result_store.h), for the code that
// holds them in memory: the runner, evaluate and merge write results.csv with the wide
// table, the pivot shares the LaTeX escaping. Defined in results.cpp beside format_table.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/experiment/results.h"

namespace hamster {

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
