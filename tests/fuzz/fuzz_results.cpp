// results.jsonl reader: the tables (md, csv, LaTeX, with diagnostics) and the pivot table
// read every record's fields.
#include "framework/experiment/pivot.h"
#include "framework/experiment/results.h"
#include "tests/fuzz/fuzz_input.h"

using namespace hamster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::write_input("results.jsonl", data, size);
  const auto dir = fuzz::work_dir();
  for (const char* format : {"md", "csv", "latex"})
    fuzz::read_or_refuse([&] { format_table(dir, format, format[0] == 'c'); });
  fuzz::read_or_refuse([&] { format_pivot(dir, PivotSpec{}); });
  PivotSpec by_seed;
  by_seed.rows = {"dataset", "seed"};
  by_seed.cols = {"bits", "L"};
  by_seed.metric = "P@10";
  by_seed.format = "csv";
  fuzz::read_or_refuse([&] { format_pivot(dir, by_seed); });
  return 0;
}
