#include <doctest/doctest.h>

#include "framework/error.h"
#include "framework/reranker.h"
#include "tests/rerank_helpers.h"

using namespace hamster;

namespace {

using test::list_of;
using test::make;

Embedding matrix(const std::vector<std::vector<float>>& rows) {
  Embedding m(rows.size(), rows[0].size());
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) m(i, j) = rows[i][j];
  return m;
}

Encoded encoded(const std::vector<std::vector<float>>& real,
                const std::vector<std::vector<float>>& features) {
  return test::encoded(matrix(features), matrix(real));
}

// prepare() with a memory-only artefact store.
void prepare(Reranker& r, const Encoded& db) {
  ArtefactStore store;
  r.prepare(RerankContext{db, store, 1, 0});
}

}  // namespace

TEST_CASE("none keeps the Hamming order") {
  auto r = make("none");
  Encoded q = encoded({{1, 1}}, {{1, 0}});
  std::vector<Shortlist> lists = {list_of({3, 1, 2})};
  r->rerank(q, lists);
  CHECK(lists[0].ids == std::vector<int64_t>{3, 1, 2});
}

TEST_CASE("feature orders the shortlist by cosine similarity - ties stay stable") {
  // Database features: item 0 orthogonal to the query, item 1 parallel, items 2 and 3 at
  // 45 degrees (a tie), item 4 not in the shortlist.
  Encoded db = encoded({{1}, {1}, {1}, {1}, {1}}, {{0, 1}, {5, 0}, {1, 1}, {2, 2}, {9, 0}});
  Encoded q = encoded({{1}}, {{3, 0}});
  auto r = make("feature");
  prepare(*r, db);
  std::vector<Shortlist> lists = {list_of({0, 3, 2, 1})};
  r->rerank(q, lists);
  CHECK(lists[0].ids == std::vector<int64_t>{1, 3, 2, 0});
  CHECK(lists[0].scores[0] == doctest::Approx(-1.0));
  CHECK(lists[0].scores[1] == doctest::Approx(-std::sqrt(0.5)));
  CHECK(lists[0].scores[3] == doctest::Approx(0.0));
}

TEST_CASE("asymmetric weighs each bit by the query's confidence") {
  // Query output (+3, -0.1, +0.1): bit 0 is confident. Item 0 differs from the query's
  // code only in bit 0 (Hamming 1), item 1 differs in bits 1 and 2 (Hamming 2). Plain
  // Hamming prefers item 0; the asymmetric score q.s prefers item 1: 3 - 0.1 - 0.1 = 2.8
  // against -3 + 0.1 + 0.1 = -2.8 (scores are -q.s, lower is better).
  Encoded db = encoded({{-1, -1, 1}, {1, 1, -1}}, {{1}, {1}});
  Encoded q = encoded({{3, -0.1f, 0.1f}}, {{1}});
  auto r = make("asymmetric");
  prepare(*r, db);
  std::vector<Shortlist> lists = {list_of({0, 1})};
  r->rerank(q, lists);
  CHECK(lists[0].ids == std::vector<int64_t>{1, 0});
  CHECK(lists[0].scores[0] == doctest::Approx(-2.8));
  CHECK(lists[0].scores[1] == doctest::Approx(2.8));
}

TEST_CASE("re-rankers refuse queries that do not match the database") {
  Encoded db = encoded({{1, 1}}, {{1, 0, 0}});
  Encoded q = encoded({{1, 1, 1}}, {{1, 0}});
  std::vector<Shortlist> lists = {list_of({0})};
  auto f = make("feature");
  prepare(*f, db);
  CHECK_THROWS_WITH_AS(f->rerank(q, lists),
                       doctest::Contains("query features have 2 dimensions, database 3"), Error);
  auto a = make("asymmetric");
  prepare(*a, db);
  CHECK_THROWS_WITH_AS(a->rerank(q, lists),
                       doctest::Contains("queries have 3 real outputs, database codes 2 bits"),
                       Error);
}
