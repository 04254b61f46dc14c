// YAML experiment config reader (in memory: parse_config takes the text), with the
// hasher and re-ranker plugins registered so that plugin names and parameters are checked.
#include <string>

#include "framework/experiment/config.h"
#include "tests/fuzz/fuzz_input.h"

using namespace hamster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::read_or_refuse([&] {
    const ExperimentConfig c = parse_config(text, "fuzz.yaml");
    for (size_t i = 0; i < c.datasets.size(); ++i) for_dataset(c, i);
  });
  return 0;
}
