#include <doctest/doctest.h>

#include "framework/error.h"
#include "framework/reranker.h"
#include "tests/helpers.h"
#include "tests/rerank_helpers.h"

using namespace hamster;
using namespace hamster::test;

TEST_CASE("gcr convolves a small universe as worked by hand from the paper") {
  // Members q, a, b, c at 0, 10, 25, 90 degrees; k1 = 2, beta = 1, one round. Each row of S
  // keeps itself and its nearest, weight exp(cos - 1) (the common factor e^-1 cancels):
  //   q: q 1, a e^(cos10 - 1) = 0.984923    a: a 1, q 0.984923
  //   b: b 1, a e^(cos15 - 1) = 0.966500    c: c 1, b e^(cos65 - 1) = 0.561366
  // Row sums q 1.984923, a 1.984923, b 1.966500, c 1.561366; column sums q 1.984923,
  // a 2.951422, b 1.561366, c 1. x_i <- sum_j S_ij / sqrt(row_i col_j) x_j, unit length:
  //   q -> 4.466816 degrees, a -> 4.542219, b -> 18.815419, c -> 71.109362.
  // Scores = -cos(new angle - q's): a -0.99999913, b -0.96880586, c -0.39646628.
  const Encoded db = encoded(rows_at_degrees({90, 25, 10}));  // c, b, a: ids 0, 1, 2
  const Encoded q = encoded(rows_at_degrees({0}));
  const auto out =
      rerank("gcr", {{"k1", "2"}, {"beta", "1"}, {"rounds", "1"}}, db, q, {list_of({0, 1, 2})});
  REQUIRE(out[0].ids == std::vector<int64_t>{2, 1, 0});
  CHECK(out[0].scores[0] == doctest::Approx(-0.99999913).epsilon(1e-6));
  CHECK(out[0].scores[1] == doctest::Approx(-0.96880586).epsilon(1e-5));
  CHECK(out[0].scores[2] == doctest::Approx(-0.39646628).epsilon(1e-5));
}

TEST_CASE("gcr ranks the query's own cluster before a nearer outsider") {
  // Three rounds at the defaults pull the query into cluster A and the outsider into B:
  // the outsider falls behind all of A (bench/reference/gcr.py gives position 40 too).
  const ClusterAndOutsider c = cluster_and_outsider();
  CHECK(rerank("feature", {}, c.db, c.query, {c.list})[0].ids[0] == c.outsider);
  const auto out = rerank("gcr", {}, c.db, c.query, {c.list});
  for (int i = 0; i < 40; ++i) CHECK(out[0].ids[i] < 40);
  CHECK(out[0].ids[40] == c.outsider);
}

TEST_CASE("gcr parameter errors name the parameter") {
  CHECK(error_message([] { make("gcr", {{"k1", "0"}}); }) == "gcr: k1 must be >= 1, got 0");
  CHECK(error_message([] { make("gcr", {{"beta", "0"}}); }) == "gcr: beta must be > 0, got 0");
  CHECK(error_message([] {
          make("gcr", {{"beta", "nan"}});
        }) == "gcr.beta: expected a finite number, got 'nan'");
  CHECK(error_message([] { make("gcr", {{"rounds", "0"}}); }) == "gcr: rounds must be >= 1, got 0");
  CHECK(error_message([] {
          make("gcr", {{"embedding", "codes"}});
        }) == "gcr: embedding must be 'feature' or 'real', got 'codes'");
}
