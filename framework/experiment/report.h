#pragma once
// `hamster report`: one self-contained HTML page for a results folder (tables, figures,
// retrieval grids), drawn by notebooks/report.py with Debian's python3 and matplotlib.
#include <filesystem>
#include <string>

namespace hamster {

struct ReportOptions {
  std::filesystem::path out;  // empty: <results_dir>/report.html
  int grids = 3;              // retrieval grids on the page
  // The hamster binary report.py calls for the grids' images (`hamster images`).
  std::filesystem::path hamster;
};

// Runs report.py and returns the page's path. The interpreter is $HAMSTER_PYTHON or
// /usr/bin/python3, the script $HAMSTER_NOTEBOOKS/report.py or the source tree's. Throws
// Error when the results are missing, when the interpreter or numpy, pandas or matplotlib
// is missing (naming the Debian packages), or when report.py fails.
std::filesystem::path write_report(const std::filesystem::path& results_dir,
                                   const ReportOptions& options);

}  // namespace hamster
