#pragma once
// Helpers shared by the hasher tests (tests/ and each hasher's own folder).
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "tests/synthetic.h"

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

// `name` at `bits` with `params`, fitted quietly on data[ids] with fit seed `seed`.
inline std::unique_ptr<Hasher> fitted(const std::string& name, int bits,
                                      const std::map<std::string, std::string>& params,
                                      const Dataset& data, const std::vector<int64_t>& ids,
                                      uint64_t seed) {
  auto h = make_hasher(name, bits, params);
  h->fit(data, ids, quiet(seed));
  return h;
}

// A deep hasher `name` at 16 bits fitted 4 epochs (batch 50, fit seed `seed`) on 50
// synthetic images of each of 10 classes, and its codes of them, checked to separate the
// classes: at least 10 distinct codes, mAP@all above 0.8.
struct SeparatingFit {
  Dataset data;
  std::vector<int64_t> ids;
  std::unique_ptr<Hasher> hasher;
  Encoded codes;
};
inline SeparatingFit fit_separating(const std::string& name, uint64_t seed) {
  SeparatingFit f{synthetic_images(50, 10, 1), {}, nullptr, {}};
  f.ids = iota_ids(f.data.size());
  f.hasher = fitted(name, 16, {{"epochs", "4"}, {"batch_size", "50"}}, f.data, f.ids, seed);
  f.codes = f.hasher->encode(f.data, f.ids, 1);
  CHECK(f.codes.codes.distinct() >= 10);
  CHECK(map_all(f.codes, f.data) > 0.8);
  return f;
}

// A `name` hasher (bits, params) loaded from `dir` encodes data[ids] to exactly `want`'s
// codes: the saved model is the model.
inline void check_loads_same_codes(const std::string& name, int bits,
                                   const std::filesystem::path& dir, const Dataset& data,
                                   const std::vector<int64_t>& ids, const Encoded& want,
                                   const std::map<std::string, std::string>& params = {}) {
  auto loaded = make_hasher(name, bits, params);
  loaded->load(dir);
  CHECK(loaded->encode(data, ids, 1).codes.data() == want.codes.data());
}

}  // namespace hamster::test
