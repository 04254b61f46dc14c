#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "framework/error.h"
#include "framework/reranker.h"
#include "tests/helpers.h"
#include "tests/rerank_helpers.h"

using namespace hamster;
using namespace hamster::test;

namespace {

int64_t position(const Shortlist& list, int64_t id) {
  return std::find(list.ids.begin(), list.ids.end(), id) - list.ids.begin();
}

}  // namespace

TEST_CASE("kreciprocal pushes down a close item that is not a reciprocal neighbour") {
  // Cluster A: items 0-29 at 0..29 degrees, loose. Cluster B: items 31-60, tight, at
  // 44.0..46.9 degrees. Item 30 at 39.5 degrees sits at B's edge: 9.5 degrees from the
  // query at 30 degrees, nearer than A's items 0-20, but its 20 nearest are all in B, so
  // neither the query nor any A item is its reciprocal neighbour.
  std::vector<double> degrees;
  for (int i = 0; i < 30; ++i) degrees.push_back(i);
  degrees.push_back(39.5);
  for (int i = 0; i < 30; ++i) degrees.push_back(44 + 0.1 * i);
  const Encoded db = encoded(rows_at_degrees(degrees));
  const Encoded q = encoded(rows_at_degrees({30}));
  std::vector<int64_t> all(degrees.size());
  std::iota(all.begin(), all.end(), 0);
  const int64_t outsider = 30;

  const auto plain = rerank("feature", {}, db, q, {list_of(all)});
  CHECK(position(plain[0], outsider) == 9);  // after A's items 29..21
  const auto out = rerank("kreciprocal", {}, db, q, {list_of(all)});
  // Every A item within 20 degrees of the query now comes first.
  for (int64_t a = 10; a < 30; ++a) CHECK(position(out[0], a) < position(out[0], outsider));
  // It shares no neighbourhood with the query: d_J = 1, score 0.7 + 0.3 d(9.5 deg).
  const double d = std::sqrt(2 - 2 * std::cos(9.5 * M_PI / 180));
  CHECK(out[0].scores[position(out[0], outsider)] == doctest::Approx(0.7 + 0.3 * d).epsilon(1e-5));
  // Still before cluster B, which shares nothing either and lies farther.
  for (int64_t b = 31; b < 61; ++b) CHECK(position(out[0], outsider) < position(out[0], b));
}

TEST_CASE("kreciprocal with lambda 1 is the plain cosine order") {
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal;
  Embedding points(130, 12);
  for (int64_t i = 0; i < points.rows(); ++i)
    for (int j = 0; j < points.cols(); ++j) points(i, j) = normal(rng);
  const Encoded db = encoded(points.topRows(120));
  const Encoded q = encoded(points.bottomRows(10));
  std::vector<Shortlist> lists;
  for (int i = 0; i < 10; ++i) {
    std::vector<int64_t> ids(120);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    ids.resize(80);
    lists.push_back(list_of(ids));
  }
  const auto cosine = rerank("feature", {}, db, q, lists);
  const auto out = rerank("kreciprocal", {{"lambda", "1"}}, db, q, lists);
  const auto blended = rerank("kreciprocal", {}, db, q, lists);
  bool any_differs = false;
  for (size_t i = 0; i < lists.size(); ++i) {
    CHECK(out[i].ids == cosine[i].ids);
    // The score is the Euclidean distance of unit vectors, sqrt(2 - 2 cos).
    CHECK(out[i].scores[3] == doctest::Approx(std::sqrt(2 + 2 * cosine[i].scores[3])));
    any_differs = any_differs || blended[i].ids != cosine[i].ids;
  }
  CHECK(any_differs);  // with the default lambda the Jaccard term does reorder
}

TEST_CASE("kreciprocal parameter errors name the parameter") {
  using test::error_message;
  CHECK(error_message([] {
          make("kreciprocal", {{"k1", "51"}});
        }) == "kreciprocal: k1 must be in [1, 50] (the shared graph's k), got 51");
  CHECK(error_message([] {
          make("kreciprocal", {{"k1", "0"}});
        }) == "kreciprocal: k1 must be in [1, 50] (the shared graph's k), got 0");
  CHECK(error_message([] {
          make("kreciprocal", {{"k2", "0"}});
        }) == "kreciprocal: k2 must be in [1, 50], got 0");
  CHECK(error_message([] {
          make("kreciprocal", {{"lambda", "1.5"}});
        }) == "kreciprocal: lambda must be in [0, 1], got 1.5");
  CHECK(error_message([] {
          make("kreciprocal", {{"lambda", "-0.1"}});
        }) == "kreciprocal: lambda must be in [0, 1], got -0.1");
  CHECK(error_message([] {
          make("kreciprocal", {{"embedding", "codes"}});
        }) == "kreciprocal: embedding must be 'feature' or 'real', got 'codes'");
}
