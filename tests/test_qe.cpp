// Query expansion re-rankers (aqe, alpha_qe, dba) and the thread independence of these and
// kreciprocal.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <numeric>
#include <random>

#include "framework/error.h"
#include "framework/graph/shared.h"
#include "framework/reranker.h"
#include "tests/helpers.h"
#include "tests/rerank_helpers.h"

using namespace hamster;
using namespace hamster::test;

namespace {

Embedding random_rows(int64_t n, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  Embedding m(n, dim);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < dim; ++j) m(i, j) = normal(rng);
  return m;
}

double cosine(const Eigen::RowVectorXf& a, const Eigen::RowVectorXf& b) {
  return a.cast<double>().normalized().dot(b.cast<double>().normalized());
}

}  // namespace

TEST_CASE("aqe by hand - the expanded query reorders the shortlist") {
  // Query at 0 degrees; items at 5, 20, 23 and -22 degrees; item 4 at 0 degrees is not in the
  // shortlist and must not take part. Plain cosine: 0, 1, 3 (22 deg), 2 (23 deg). With n = 3,
  // q' = normalise(q + x0 + x1 + x3) points at +0.81 degrees, so item 2 (22.19 deg from q')
  // passes item 3 (22.81 deg).
  const Encoded db = encoded(rows_at_degrees({5, 20, 23, -22, 0}, 2));
  const Encoded q = encoded(rows_at_degrees({0}, 3));
  const auto plain = rerank("feature", {}, db, q, {list_of({3, 2, 1, 0})});
  CHECK(plain[0].ids == std::vector<int64_t>{0, 1, 3, 2});
  const auto out = rerank("aqe", {{"n", "3"}}, db, q, {list_of({3, 2, 1, 0})});
  CHECK(out[0].ids == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(out[0].scores[0] == doctest::Approx(-0.9973263513687186).epsilon(1e-6));
  CHECK(out[0].scores[2] == doctest::Approx(-0.9259318998973907).epsilon(1e-6));
  CHECK(out[0].scores[3] == doctest::Approx(-0.9218002418469817).epsilon(1e-6));
  // n beyond the shortlist is clipped: all four items, q' = normalise(q + sum x).
  const auto all = rerank("aqe", {{"n", "100"}}, db, q, {list_of({3, 2, 1, 0})});
  Eigen::RowVectorXf expanded = at_degrees(0);
  for (double d : {5, 20, 23, -22}) expanded += at_degrees(d);
  CHECK(all[0].ids.front() == 0);
  CHECK(all[0].scores.back() == doctest::Approx(-cosine(expanded, at_degrees(-22))).epsilon(1e-6));
}

TEST_CASE("alpha_qe with alpha 0 equals aqe exactly") {
  const Encoded db = encoded(random_rows(200, 8, 1));
  const Encoded q = encoded(random_rows(10, 8, 2));
  const auto lists = random_lists(10, 200, 50, 3);
  for (const std::string n : {"1", "5", "60"}) {
    const auto a = rerank("aqe", {{"n", n}}, db, q, lists);
    const auto b = rerank("alpha_qe", {{"n", n}, {"alpha", "0"}}, db, q, lists);
    const auto weighted = rerank("alpha_qe", {{"n", n}}, db, q, lists);
    for (size_t i = 0; i < lists.size(); ++i) {
      CHECK(a[i].ids == b[i].ids);
      CHECK(a[i].scores == b[i].scores);
    }
    if (n != "1") CHECK(a[0].scores != weighted[0].scores);  // alpha = 3 weighs differently
  }
}

TEST_CASE("alpha_qe with a large alpha approaches the top-1 expansion") {
  // Similarities 0.996, 0.940, 0.927: with alpha = 500 the second weighs (0.940/0.996)^500,
  // about 1e-13, so the expansion is q + 0.996^500 x0.
  const Encoded db = encoded(rows_at_degrees({5, 20, 23, -22}));
  const Encoded q = encoded(rows_at_degrees({0}));
  const auto sharp =
      rerank("alpha_qe", {{"n", "3"}, {"alpha", "500"}}, db, q, {list_of({3, 2, 1, 0})});
  const double w0 = std::pow(std::cos(5 * M_PI / 180), 500);
  const Eigen::RowVectorXf expected = at_degrees(0) + static_cast<float>(w0) * at_degrees(5);
  // q' at +0.65 deg (weight 0.149 on x0): item 2 (22.35 deg) passes item 3 (22.65 deg).
  CHECK(sharp[0].ids == std::vector<int64_t>{0, 1, 2, 3});
  for (size_t i = 0; i < 4; ++i)
    CHECK(sharp[0].scores[i] ==
          doctest::Approx(-cosine(expected, db.features.row(sharp[0].ids[i]))).epsilon(1e-6));
}

TEST_CASE("alpha_qe gives negative similarities no weight - aqe weighs them 1") {
  // Item 1 at 120 degrees has cos -0.5 with the query: among the top 2, yet weight 0.
  const Encoded db = encoded(rows_at_degrees({10, 120}));
  const Encoded q = encoded(rows_at_degrees({0}));
  const auto weighted = rerank("alpha_qe", {{"n", "2"}, {"alpha", "1"}}, db, q, {list_of({1, 0})});
  const Eigen::RowVectorXf expected =
      at_degrees(0) + static_cast<float>(std::cos(10 * M_PI / 180)) * at_degrees(10);
  CHECK(weighted[0].ids == std::vector<int64_t>{0, 1});
  CHECK(weighted[0].scores[1] == doctest::Approx(-cosine(expected, at_degrees(120))).epsilon(1e-6));
  const auto average = rerank("aqe", {{"n", "2"}}, db, q, {list_of({1, 0})});
  const Eigen::RowVectorXf sum = at_degrees(0) + at_degrees(10) + at_degrees(120);
  CHECK(average[0].scores[1] == doctest::Approx(-cosine(sum, at_degrees(120))).epsilon(1e-6));
}

namespace {

// Four items in the first two dimensions (0, 20, 50 and 85 degrees) and 56 fillers in six
// other dimensions (all positive), orthogonal to the four: the graph's rows of the four
// begin with the other three, by angle. The shared graph needs more than k = 50 items.
Encoded dba_database() {
  Embedding m = Embedding::Zero(60, 8);
  m.block(0, 0, 4, 2) = rows_at_degrees({0, 20, 50, 85});
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> uniform(0.1f, 1.0f);
  for (int64_t i = 4; i < 60; ++i)
    for (int j = 2; j < 8; ++j) m(i, j) = uniform(rng);
  return encoded(m);
}

Eigen::RowVectorXf padded(const Eigen::RowVectorXf& v) {
  Eigen::RowVectorXf out = Eigen::RowVectorXf::Zero(8);
  out.head(2) = v;
  return out;
}

}  // namespace

TEST_CASE("dba augments each item with its graph neighbours by hand") {
  const Encoded db = dba_database();
  const Encoded q = encoded(padded(at_degrees(63)));
  ArtefactStore store;
  RerankContext ctx{db, store, 1, 0};
  auto r = make("dba", {{"k", "2"}});  // alpha = 3
  r->prepare(ctx);
  // The graph dba used is the shared one: its rows of the four items as designed.
  const auto graph = shared_knn_graph(ctx, "feature", KnnGraphOptions{});
  CHECK(std::vector<int32_t>(graph->neighbours(0), graph->neighbours(0) + 2) ==
        std::vector<int32_t>{1, 2});
  CHECK(std::vector<int32_t>(graph->neighbours(3), graph->neighbours(3) + 2) ==
        std::vector<int32_t>{2, 1});
  // x'_i = normalise(x_i + cos^3 x_a + cos^3 x_b) over i's two nearest at the given angles.
  const auto w = [](double degrees) { return std::pow(std::cos(degrees * M_PI / 180), 3); };
  const auto aug = [&](double self, double a, double b) -> Eigen::RowVectorXf {
    return at_degrees(self) + static_cast<float>(w(a - self)) * at_degrees(a) +
           static_cast<float>(w(self - b)) * at_degrees(b);
  };
  const std::vector<Eigen::RowVectorXf> augmented = {aug(0, 20, 50), aug(20, 0, 50),
                                                     aug(50, 20, 85), aug(85, 50, 20)};
  std::vector<Shortlist> lists = {list_of({0, 1, 2, 3})};
  r->rerank(q, lists);
  for (size_t i = 0; i < 4; ++i)
    CHECK(lists[0].scores[i] ==
          doctest::Approx(-cosine(at_degrees(63), augmented[lists[0].ids[i]])).epsilon(1e-6));
  // Plain cosine from 63 deg ranks 50 deg (13 away) before 85 deg (22 away); augmented, the
  // item at 85 deg leans to 70.5 deg (7.5 away) while 50 deg barely moves (49.7 deg).
  const auto plain = rerank("feature", {}, db, q, {list_of({0, 1, 2, 3})});
  CHECK(plain[0].ids == std::vector<int64_t>{2, 3, 1, 0});
  CHECK(lists[0].ids == std::vector<int64_t>{3, 2, 1, 0});

  // DBA + alpha-QE: q' = normalise(q + sum over the best qe_n augmented items of cos^3 x').
  auto with_qe = make("dba", {{"k", "2"}, {"qe_n", "1"}});
  with_qe->prepare(ctx);
  std::vector<Shortlist> expanded = {list_of({0, 1, 2, 3})};
  with_qe->rerank(q, expanded);
  const Eigen::RowVectorXf best = augmented[3].normalized();  // the nearest, as above
  const Eigen::RowVectorXf q2 =
      at_degrees(63) + static_cast<float>(std::pow(cosine(at_degrees(63), best), 3)) * best;
  for (size_t i = 0; i < 4; ++i)
    CHECK(expanded[0].scores[i] ==
          doctest::Approx(-cosine(q2, augmented[expanded[0].ids[i]])).epsilon(1e-6));
}

TEST_CASE("dba builds its augmented database once per store") {
  const Encoded db = dba_database();
  ArtefactStore store;
  RerankContext ctx{db, store, 1, 0};
  const auto dba_entries = [&] {
    int count = 0;
    for (const auto& e : store.entries()) count += e.key.rfind("dba", 0) == 0;
    return count;
  };
  make("dba", {})->prepare(ctx);
  make("dba", {{"qe_n", "3"}})->prepare(ctx);  // online option: same augmented database
  CHECK(dba_entries() == 1);
  make("dba", {{"k", "3"}})->prepare(ctx);
  CHECK(dba_entries() == 2);
}

TEST_CASE("qe parameter errors name the plugin and the parameter") {
  using test::error_message;
  CHECK(error_message([] { make("aqe", {{"n", "0"}}); }) == "aqe: n must be >= 1, got 0");
  CHECK(error_message([] {
          make("aqe", {{"embedding", "pixels"}});
        }) == "aqe: embedding must be 'feature' or 'real', got 'pixels'");
  CHECK(error_message([] {
          make("alpha_qe", {{"alpha", "-0.5"}});
        }) == "alpha_qe: alpha must be >= 0, got -0.5");
  CHECK(error_message([] {
          make("alpha_qe", {{"n", "-1"}});
        }) == "alpha_qe: n must be >= 1, got -1");
  CHECK(error_message([] {
          make("dba", {{"k", "51"}});
        }) == "dba: k must be in [1, 50] (the shared graph's k), got 51");
  CHECK(error_message([] {
          make("dba", {{"k", "0"}});
        }) == "dba: k must be in [1, 50] (the shared graph's k), got 0");
  CHECK(error_message([] { make("dba", {{"alpha", "-1"}}); }) == "dba: alpha must be >= 0, got -1");
  CHECK(error_message([] { make("dba", {{"qe_n", "-2"}}); }) == "dba: qe_n must be >= 0, got -2");
  CHECK(error_message([] {
          make("dba", {{"graph", "ivf"}});
        }) == "dba: graph must be hnsw or exact, got 'ivf'");
  // Queries of another dimension than the database.
  const Encoded db = encoded(rows_at_degrees({0, 10}));
  const Encoded q = encoded(random_rows(1, 3, 1));
  CHECK(error_message([&] {
          rerank("aqe", {}, db, q, {list_of({0, 1})});
        }) == "aqe: queries have 3 dimensions, database 2 (was prepare() called?)");
}

TEST_CASE("qe and universe re-rankers give results that do not depend on the thread count") {
  // Clustered data, so that graphs and expansions have structure to find.
  Embedding centres = random_rows(8, 16, 11);
  Embedding points = random_rows(430, 16, 12) * 0.4f;
  for (int64_t i = 0; i < points.rows(); ++i) points.row(i) += centres.row(i % 8);
  const Encoded db = encoded(points.topRows(400));
  const Encoded q = encoded(points.bottomRows(30));
  const auto lists = random_lists(30, 400, 150, 13);
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> plugins = {
      {"aqe", {}},         {"alpha_qe", {}}, {"dba", {{"qe_n", "3"}}},
      {"kreciprocal", {}}, {"gnn", {}},      {"gcr", {}}};
  for (const auto& plugin : plugins) {
    // Not a structured binding: CAPTURE's lambda cannot name one before C++20 (clang).
    const std::string& name = plugin.first;
    const auto& params = plugin.second;
    CAPTURE(name);
    std::vector<Shortlist> one, two;
    {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
      one = rerank(name, params, db, q, lists);
    }
    {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
      two = rerank(name, params, db, q, lists);
    }
    for (size_t i = 0; i < lists.size(); ++i) {
      CHECK(one[i].ids == two[i].ids);
      CHECK(one[i].scores == two[i].scores);
    }
    CHECK(one[0].ids != lists[0].ids);  // it did reorder
  }
}
