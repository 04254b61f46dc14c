#include <doctest/doctest.h>

#include <numeric>
#include <random>

#include "framework/error.h"
#include "framework/reranker.h"
#include "tests/helpers.h"
#include "tests/rerank_helpers.h"

using namespace hamster;
using namespace hamster::test;

TEST_CASE("gnn scores a small universe as worked by hand from the paper") {
  // Query q at 0 degrees; a, b, c at 10, 25, 90; members 0..3 = q, a, b, c. k1 = 2: each
  // member's row of A marks itself and its nearest (q -> a, a -> q, b -> a, c -> b).
  // A + A^T: q (2, 2, 0, 0), a (2, 2, 1, 0), b (0, 1, 2, 1), c (0, 0, 1, 2).
  // One layer, k2 = 2: row = own row + cos^2(nearest) * nearest's row, then unit length:
  //   q = (2,2,0,0) + cos^2 10 (2,2,1,0) = (3.939693, 3.939693, 0.969846, 0)
  //   a = (2,2,1,0) + cos^2 10 (2,2,0,0) = (3.939693, 3.939693, 1, 0)
  //   b = (0,1,2,1) + cos^2 15 (2,2,1,0) = (1.866025, 2.866025, 2.933013, 1)
  //   c = (0,0,1,2) + cos^2 65 (0,1,2,1) = (0, 0.178606, 1.357212, 2.178606)
  // Scores = minus the cosine of q's row with each: a -0.999986, b -0.823280, c -0.138817.
  const Encoded db = encoded(rows_at_degrees({90, 25, 10}));  // c, b, a: ids 0, 1, 2
  const Encoded q = encoded(rows_at_degrees({0}));
  const auto out =
      rerank("gnn", {{"k1", "2"}, {"k2", "2"}, {"layers", "1"}}, db, q, {list_of({0, 1, 2})});
  REQUIRE(out[0].ids == std::vector<int64_t>{2, 1, 0});
  CHECK(out[0].scores[0] == doctest::Approx(-0.999986).epsilon(1e-5));
  CHECK(out[0].scores[1] == doctest::Approx(-0.823280).epsilon(1e-5));
  CHECK(out[0].scores[2] == doctest::Approx(-0.138817).epsilon(1e-4));
}

TEST_CASE("gnn with k2 = 1 counts shared top-k1 neighbours, as the authors' code") {
  // No layers: A_q = {q, a}, A_a = {a, q}, A_b = {b, a}, A_c = {c, b}. Shared with q: a 2,
  // b 1 (a), c 0.
  const Encoded db = encoded(rows_at_degrees({90, 25, 10}));
  const Encoded q = encoded(rows_at_degrees({0}));
  const auto out = rerank("gnn", {{"k1", "2"}, {"k2", "1"}}, db, q, {list_of({0, 1, 2})});
  REQUIRE(out[0].ids == std::vector<int64_t>{2, 1, 0});
  CHECK(out[0].scores == std::vector<float>{-2, -1, 0});
}

TEST_CASE("gnn ranks the query's own cluster before a nearer outsider") {
  // Message passing weighs neighbourhoods, not distances: the outsider falls behind
  // cluster A's near half.
  const ClusterAndOutsider c = cluster_and_outsider();
  CHECK(rerank("feature", {}, c.db, c.query, {c.list})[0].ids[0] == c.outsider);
  const auto out = rerank("gnn", {}, c.db, c.query, {c.list});
  for (int i = 0; i < 20; ++i) CHECK(out[0].ids[i] < 40);
}

TEST_CASE("gnn parameter errors name the parameter") {
  CHECK(error_message([] { make("gnn", {{"k1", "0"}}); }) == "gnn: k1 must be >= 1, got 0");
  CHECK(error_message([] { make("gnn", {{"k2", "0"}}); }) == "gnn: k2 must be >= 1, got 0");
  CHECK(error_message([] { make("gnn", {{"layers", "0"}}); }) == "gnn: layers must be >= 1, got 0");
  CHECK(error_message([] {
          make("gnn", {{"embedding", "codes"}});
        }) == "gnn: embedding must be 'feature' or 'real', got 'codes'");
}
