#pragma once
// Helpers shared by the re-ranker tests: encoded sets built from rows, shortlists, and
// re-rankers created and prepared with a memory-only artefact store.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "framework/artefacts.h"
#include "framework/reranker.h"

namespace hamster::test {

// An encoded set with deep features `features`, hash layer output `real` and the codes of
// real's signs.
inline Encoded encoded(const Embedding& features, const Embedding& real) {
  Encoded e;
  e.features = features;
  e.real = real;
  e.codes = BinaryCodes::from_signs(e.real.data(), e.real.rows(), static_cast<int>(e.real.cols()));
  return e;
}

// An encoded set whose deep features and real output are both `rows`.
inline Encoded encoded(const Embedding& rows) { return encoded(rows, rows); }

// A 2-d row at `degrees` (dynamic size: fixed 2-float rows trip gcc's bounds warnings).
inline Eigen::RowVectorXf at_degrees(double degrees, float length = 1) {
  const double r = degrees * M_PI / 180;
  Eigen::RowVectorXf v(2);
  v << static_cast<float>(length * std::cos(r)), static_cast<float>(length * std::sin(r));
  return v;
}

// One 2-d row per angle, of norm `length`.
inline Embedding rows_at_degrees(const std::vector<double>& degrees, float length = 1) {
  Embedding m(degrees.size(), 2);
  for (size_t i = 0; i < degrees.size(); ++i) m.row(i) = at_degrees(degrees[i], length);
  return m;
}

// n rows of standard normal draws, `dims` wide, from `seed`.
inline Embedding gaussian_points(int n, int dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0, 1);
  Embedding points(n, dims);
  for (int i = 0; i < points.size(); ++i) points.data()[i] = gauss(rng);
  return points;
}

// A shortlist of `ids` in this order, all scores 0.
inline Shortlist list_of(std::vector<int64_t> ids) {
  Shortlist s;
  s.ids = std::move(ids);
  s.scores.assign(s.ids.size(), 0);
  return s;
}

// Each query's shortlist: `length` distinct database ids in a random (stage-1) order.
inline std::vector<Shortlist> random_lists(int64_t queries, int64_t n, int64_t length,
                                           uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Shortlist> lists;
  for (int64_t q = 0; q < queries; ++q) {
    std::vector<int64_t> ids(n);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    ids.resize(length);
    lists.push_back(list_of(ids));
  }
  return lists;
}

// The registered re-ranker `name` with `params`.
inline std::unique_ptr<Reranker> make(const std::string& name,
                                      const std::map<std::string, std::string>& params = {}) {
  return RerankerRegistry::instance().create(name, params);
}

// The registered re-ranker `name` with `params`, prepared on `ctx`.
inline std::unique_ptr<Reranker> prepared(const RerankContext& ctx, const std::string& name,
                                          const std::map<std::string, std::string>& params = {}) {
  auto r = make(name, params);
  r->prepare(ctx);
  return r;
}

// Prepares `name` on `db` with its own memory-only store and reranks `lists`.
inline std::vector<Shortlist> rerank(const std::string& name,
                                     const std::map<std::string, std::string>& params,
                                     const Encoded& db, const Encoded& queries,
                                     std::vector<Shortlist> lists) {
  auto r = make(name, params);
  ArtefactStore store;
  r->prepare(RerankContext{db, store, 1, 0});
  r->rerank(queries, lists);
  return lists;
}

// The neighbourhood test of the universe re-rankers (gnn, gcr): the query at 9 degrees;
// cluster A, items 0..39 at 12..15.9 degrees (3 to 6.9 away); cluster B, items 40..69 at
// 2..4.9; item 70, the outsider, at 7.5 degrees, is the query's nearest but its own nearest
// are cluster B. `list` holds every item.
struct ClusterAndOutsider {
  Encoded db, query;
  Shortlist list;
  int64_t outsider = 70;
};

inline ClusterAndOutsider cluster_and_outsider() {
  std::vector<double> degrees;
  for (int i = 0; i < 40; ++i) degrees.push_back(12 + 0.1 * i);
  for (int i = 0; i < 30; ++i) degrees.push_back(2 + 0.1 * i);
  degrees.push_back(7.5);
  std::vector<int64_t> all(degrees.size());
  std::iota(all.begin(), all.end(), 0);
  return {encoded(rows_at_degrees(degrees)), encoded(rows_at_degrees({9})), list_of(all), 70};
}

}  // namespace hamster::test
