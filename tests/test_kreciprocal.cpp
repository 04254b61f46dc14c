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

TEST_CASE("kreciprocal scores a small universe as worked by hand from the paper") {
  // Query q at 0 degrees; a, b, c at 10, 25, 90. Universe members 0..3 = q, a, b, c.
  // d = (2 - 2 cos) / the row's largest: q's row / (2 - 2 cos 90) = 2, so d(q, a) =
  // 0.030384 / 2 = 0.015192, d(q, b) = 0.187384 / 2 = 0.093692, d(q, c) = 1; a's row /
  // (2 - 2 cos 80) = 1.652704, so d(a, q) = 0.030384 / 1.652704 = 0.018385.
  // k1 = 1: N(p, 1) = p and its nearest: q -> a, a -> q (10 < 15 degrees), b -> a, c -> b.
  // R(q, 1) = {q, a}, R(a, 1) = {a, q}; b and c are nobody's reciprocal: R = {b}, {c}.
  // h = round(0.5) = 0, so R(c, 0) = {c} lies in R(p, 1): R* = R.
  // V_q = (1, exp(-0.015192)) / 1.984923 = (0.503798, 0.496202) on (q, a);
  // V_a = (exp(-0.018385), 1) / 1.981783 = (0.495404, 0.504596) on (q, a).
  // k2 = 1: no expansion. sum min(V_q, V_a) = 0.495404 + 0.496202 = 0.991606, so
  // d_J(q, a) = 1 - 0.991606 / 1.008394 = 0.016648 and V_b, V_c share nothing with V_q: 1.
  // Scores (lambda 0.3): a 0.7 * 0.016648 + 0.3 * 0.015192 = 0.016212;
  // b 0.7 + 0.3 * 0.093692 = 0.728108; c 0.7 + 0.3 * 1 = 1.
  const Encoded db = encoded(rows_at_degrees({90, 25, 10}));  // c, b, a: ids 0, 1, 2
  const Encoded q = encoded(rows_at_degrees({0}));
  const auto out = rerank("kreciprocal", {{"k1", "1"}, {"k2", "1"}}, db, q, {list_of({0, 1, 2})});
  REQUIRE(out[0].ids == std::vector<int64_t>{2, 1, 0});
  CHECK(out[0].scores[0] == doctest::Approx(0.016212).epsilon(1e-4));
  CHECK(out[0].scores[1] == doctest::Approx(0.728108).epsilon(1e-5));
  CHECK(out[0].scores[2] == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("kreciprocal local expansion averages V over the k2 nearest") {
  // Same universe, k2 = 2: V_q becomes (V_q + V_a) / 2 and V_a becomes (V_a + V_q) / 2, the
  // same vector, so d_J(q, a) = 0; V_b becomes (V_b + V_a) / 2 = (0.247702, 0.252298, 0.5)
  // on (q, a, b); V_q = (0.499601, 0.500399) on (q, a); sum min = 0.247702 + 0.252298 = 0.5,
  // d_J(q, b) = 1 - 0.5 / 1.5 = 2/3. c's nearest is b: V_c = (V_c + V_b) / 2 = (0.5, 0.5) on
  // (b, c), nothing shared with V_q: d_J = 1.
  const Encoded db = encoded(rows_at_degrees({90, 25, 10}));
  const Encoded q = encoded(rows_at_degrees({0}));
  const auto out = rerank("kreciprocal", {{"k1", "1"}, {"k2", "2"}}, db, q, {list_of({0, 1, 2})});
  REQUIRE(out[0].ids == std::vector<int64_t>{2, 1, 0});
  CHECK(out[0].scores[0] == doctest::Approx(0.3 * 0.015192).epsilon(1e-4));
  CHECK(out[0].scores[1] == doctest::Approx(0.7 * 2 / 3.0 + 0.3 * 0.093692).epsilon(1e-5));
  CHECK(out[0].scores[2] == doctest::Approx(1.0).epsilon(1e-6));
}

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
  // It shares no neighbourhood with the query: d_J = 1, score 0.7 + 0.3 d, d its squared
  // distance over the query's largest, item 0's at 30 degrees.
  const double d = (1 - std::cos(9.5 * M_PI / 180)) / (1 - std::cos(30 * M_PI / 180));
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
    // The score is the squared distance 2 - 2 cos over the query's largest one.
    const float farthest = 2 + 2 * cosine[i].scores.back();
    CHECK(out[i].scores[3] == doctest::Approx((2 + 2 * cosine[i].scores[3]) / farthest));
    any_differs = any_differs || blended[i].ids != cosine[i].ids;
  }
  CHECK(any_differs);  // with the default lambda the Jaccard term does reorder
}

TEST_CASE("kreciprocal parameter errors name the parameter") {
  using test::error_message;
  CHECK(error_message([] {
          make("kreciprocal", {{"k1", "0"}});
        }) == "kreciprocal: k1 must be >= 1, got 0");
  CHECK(error_message([] {
          make("kreciprocal", {{"k2", "0"}});
        }) == "kreciprocal: k2 must be >= 1, got 0");
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
