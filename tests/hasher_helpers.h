#pragma once
// Helpers shared by the hasher tests (tests/ and each hasher's own folder).
#include <map>
#include <memory>
#include <string>

#include "framework/eval/metrics.h"
#include "framework/hasher.h"

namespace hamster::test {

inline std::unique_ptr<Hasher> make_hasher(const std::string& name, int bits,
                                           const std::map<std::string, std::string>& params = {}) {
  return HasherRegistry::instance().create(name, params, bits);
}

// A fit context with this seed that prints nothing.
inline FitContext quiet(uint64_t seed) {
  FitContext ctx;
  ctx.seed = seed;
  ctx.log = [](const std::string&) {};
  return ctx;
}

// mAP@all of every item against all items (itself included), by Hamming ranking.
inline double map_all(const Encoded& e, const Dataset& d) {
  return evaluate(d.labels, d.labels, e.codes, e.codes, {}, EvalOptions{{kAll}, {}, {}, 2})
      .get("mAP@all");
}

}  // namespace hamster::test
