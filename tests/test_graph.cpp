#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <fstream>

#include "framework/error.h"
#include "framework/graph/panel_product.h"
#include "framework/graph/shared.h"
#include "framework/graph/subspace.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

// Clusters in a low-dimensional subspace plus noise, through a ReLU, unit rows: the kind
// of data the graph re-rankers see (post-ReLU CNN features).
Embedding clustered(int64_t n, int d, int clusters, int subspace, uint64_t seed) {
  Rng rng(seed);
  Embedding basis(subspace, d), centres(clusters, subspace), z(n, subspace);
  for (int64_t i = 0; i < basis.size(); ++i) basis.data()[i] = static_cast<float>(rng.normal());
  for (int64_t i = 0; i < centres.size(); ++i) centres.data()[i] = static_cast<float>(rng.normal());
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < subspace; ++j)
      z(i, j) = centres(i % clusters, j) + 0.6f * static_cast<float>(rng.normal());
  Embedding x = z * basis / std::sqrt(static_cast<float>(subspace));
  for (int64_t i = 0; i < x.size(); ++i)
    x.data()[i] = std::max(0.0f, x.data()[i] + 0.3f * static_cast<float>(rng.normal()));
  return l2_normalised(x);
}

// Small integer entries: every inner product is exact in float whatever the summation
// order, so ties are real ties and a brute force can be compared id for id.
Embedding small_integers(int64_t n, int d, uint64_t seed) {
  Rng rng(seed);
  Embedding x(n, d);
  for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.below(5)) - 2;
  return x;
}

KnnGraph brute_force(const Embedding& x, int k) {
  KnnGraph g;
  g.n = x.rows(), g.k = k;
  for (int64_t i = 0; i < g.n; ++i) {
    std::vector<std::pair<float, int32_t>> row;  // (-similarity, id): sorts best first
    for (int64_t j = 0; j < g.n; ++j)
      if (j != i) row.push_back({-x.row(i).dot(x.row(j)), static_cast<int32_t>(j)});
    std::sort(row.begin(), row.end());
    for (int j = 0; j < k; ++j) g.ids.push_back(row[j].second), g.sims.push_back(-row[j].first);
  }
  return g;
}

// Row order, no self id, ties by smaller id.
void check_rows_ordered(const KnnGraph& g) {
  for (int64_t i = 0; i < g.n; ++i) {
    for (int j = 0; j < g.k; ++j) {
      REQUIRE(g.neighbours(i)[j] != i);
      if (j == 0) continue;
      const float prev = g.similarities(i)[j - 1], cur = g.similarities(i)[j];
      REQUIRE(prev >= cur);
      if (prev == cur) REQUIRE(g.neighbours(i)[j - 1] < g.neighbours(i)[j]);
    }
  }
}

Eigen::MatrixXd dense(const SparseMatrix& s) { return Eigen::MatrixXf(s.toDense()).cast<double>(); }

}  // namespace

TEST_CASE("graph: l2_normalised keeps zero rows and names a row holding NaN") {
  Embedding m(3, 2);
  m << 3, 4, 0, 0, 1, 0;
  const Embedding n = l2_normalised(m);
  CHECK(n(0, 0) == doctest::Approx(0.6));
  CHECK(n(0, 1) == doctest::Approx(0.8));
  CHECK(n.row(1).isZero());
  m(2, 1) = NAN;
  CHECK(test::error_message([&] { l2_normalised(m); }).find("row 2") != std::string::npos);
  m(2, 1) = INFINITY;
  CHECK(test::error_message([&] { l2_normalised(m); }).find("row 2") != std::string::npos);
}

TEST_CASE("graph: exact graph equals brute force with ties and a duplicate row") {
  Embedding x = small_integers(70, 4, 7);
  x.row(40) = x.row(3);  // a duplicate: a neighbour of item 3, never item 3 itself
  const KnnGraph exact = exact_knn_graph(x, 12);
  const KnnGraph expected = brute_force(x, 12);
  CHECK(exact.n == 70);
  CHECK(exact.k == 12);
  CHECK(exact.ids == expected.ids);
  CHECK(exact.sims == expected.sims);
  check_rows_ordered(exact);
  const int32_t* row3 = exact.neighbours(3);
  CHECK(std::find(row3, row3 + 12, 40) != row3 + 12);
  // With 4 dims of 5 values, ties are everywhere: make sure the test exercised them.
  int ties = 0;
  for (int64_t i = 0; i < exact.n; ++i)
    for (int j = 1; j < exact.k; ++j)
      ties += exact.similarities(i)[j] == exact.similarities(i)[j - 1];
  CHECK(ties > 100);
  // build_knn_graph's "exact" is the same graph.
  KnnGraphOptions o;
  o.method = "exact", o.k = 12;
  CHECK(build_knn_graph(x, o).ids == exact.ids);
}

TEST_CASE("graph: bad k and unknown methods are errors") {
  const Embedding x = small_integers(10, 3, 1);
  KnnGraphOptions o;
  o.k = 10;
  CHECK(test::error_message([&] { build_knn_graph(x, o); }).find("k = 10") != std::string::npos);
  CHECK(test::error_message([&] { exact_knn_graph(x, 0); }).find("k = 0") != std::string::npos);
  o.k = 3, o.method = "annoy";
  CHECK(test::error_message([&] { build_knn_graph(x, o); }).find("'annoy'") != std::string::npos);
}

TEST_CASE("graph: hnsw graph has recall >= 0.99 at the defaults on clustered points") {
  const Embedding x = clustered(3000, 64, 20, 12, 5);
  const KnnGraph hnsw = build_knn_graph(x, KnnGraphOptions{});
  const KnnGraph exact = exact_knn_graph(x, KnnGraphOptions{}.k);
  check_rows_ordered(hnsw);
  const double recall = knn_recall(hnsw, exact);
  MESSAGE("hnsw recall@50 on 3000 clustered points: " << recall);
  CHECK(recall >= 0.99);
  CHECK(recall <= 1.0);
}

TEST_CASE("graph: hnsw graph is the same at 1 and 2 threads") {
  const Embedding x = clustered(4000, 32, 10, 8, 11);
  KnnGraphOptions o;
  o.k = 20, o.ef_construction = 40;  // a smaller beam leaves more room for order effects
  KnnGraph one, two;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = build_knn_graph(x, o);
  }
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
    two = build_knn_graph(x, o);
  }
  CHECK(one.ids == two.ids);
  CHECK(one.sims == two.sims);
  // A different seed gives a different index, so the comparison above can fail.
  o.seed = 101;
  CHECK(build_knn_graph(x, o).ids != one.ids);
}

TEST_CASE("graph: hnsw graph of duplicated rows still fills every row") {
  // 250 copies of one vector and 50 of an orthogonal one: hnsw links duplicates poorly
  // and the second group's rows need items of the first at similarity 0. Whatever the
  // search finds, every row must list k distinct other items, best first.
  Embedding x = Embedding::Zero(300, 4);
  x.col(0).head(250).setOnes();
  x.col(1).tail(50).setOnes();
  KnnGraphOptions o;
  o.k = 59, o.ef_construction = 10;
  const KnnGraph g = build_knn_graph(x, o);
  check_rows_ordered(g);
  for (int64_t i = 0; i < 300; ++i) {
    std::vector<int32_t> row(g.neighbours(i), g.neighbours(i) + g.k);
    std::sort(row.begin(), row.end());
    REQUIRE(std::unique(row.begin(), row.end()) == row.end());
    REQUIRE(row.front() >= 0);
    REQUIRE(row.back() < 300);
    REQUIRE(g.similarities(i)[0] == 1);
  }
}

TEST_CASE("graph: affinity is symmetric with zero diagonal and clipped powered weights") {
  // Item 0 and 1 list each other; 0 and 2 list each other with different similarities;
  // 2 lists 1 one way; 3 sees only negative similarities and nobody lists it positively.
  KnnGraph g;
  g.n = 4, g.k = 2;
  g.ids = {1, 2, 0, 3, 0, 1, 0, 1};
  g.sims = {0.9f, 0.5f, 0.9f, -0.2f, 0.6f, 0.4f, -0.1f, -0.3f};
  const Eigen::MatrixXd a = dense(affinity_matrix(g, {3, false}));
  CHECK((a - a.transpose()).norm() == 0);
  CHECK(a.diagonal().isZero());
  CHECK(a(0, 1) == doctest::Approx(std::pow(0.9, 3)));
  CHECK(a(0, 2) == doctest::Approx(std::pow(0.6, 3)));  // the larger of 0.5 and 0.6
  CHECK(a(1, 2) == doctest::Approx(std::pow(0.4, 3)));  // listed by 2 only
  CHECK(a.row(3).isZero());                             // negatives clipped to 0
  CHECK(dense(affinity_matrix(g, {1, false}))(0, 1) == doctest::Approx(0.9));

  const Eigen::MatrixXd mutual = dense(affinity_matrix(g, {3, true}));
  CHECK(mutual(1, 2) == 0);
  CHECK(mutual(2, 1) == 0);
  CHECK(mutual(0, 1) == doctest::Approx(std::pow(0.9, 3)));
  CHECK(mutual(0, 2) == doctest::Approx(std::pow(0.6, 3)));

  const Eigen::MatrixXd s = dense(normalised_affinity(affinity_matrix(g, {3, false})));
  CHECK(s.allFinite());
  CHECK(s.row(3).isZero());
  CHECK((s - s.transpose()).norm() == 0);
  const double d0 = a.row(0).sum(), d1 = a.row(1).sum();
  CHECK(s(0, 1) == doctest::Approx(a(0, 1) / std::sqrt(d0 * d1)));
}

TEST_CASE("graph: conjugate gradient matches a dense solve of (I - alpha S) x = b") {
  const Embedding x = clustered(60, 16, 4, 6, 3);
  const SparseMatrix s = normalised_affinity(affinity_matrix(exact_knn_graph(x, 6), {}));
  const float alpha = 0.9f;
  Rng rng(2);
  Eigen::VectorXf b(60);
  for (auto& v : b) v = static_cast<float>(rng.normal());
  const Eigen::MatrixXd m = Eigen::MatrixXd::Identity(60, 60) - alpha * dense(s);
  const Eigen::VectorXd expected = m.ldlt().solve(b.cast<double>());
  Eigen::VectorXf solution = Eigen::VectorXf::Zero(60);
  const CgResult r = conjugate_gradient(s, alpha, b, solution, 1e-6f, 200);
  CHECK(r.iterations > 1);
  CHECK(r.residual <= 1e-5f);
  CHECK((solution.cast<double>() - expected).norm() <= 1e-4 * expected.norm());
  // Too few iterations leave a residual the result reports.
  Eigen::VectorXf rough = Eigen::VectorXf::Zero(60);
  CHECK(conjugate_gradient(s, alpha, b, rough, 1e-6f, 2).residual > 1e-3f);
}

TEST_CASE("graph: top eigenpairs have residual <= 1e-6 and decreasing values") {
  const Embedding x = clustered(300, 16, 5, 6, 9);
  const SparseMatrix s = normalised_affinity(affinity_matrix(exact_knn_graph(x, 10), {}));
  const int rank = 8;
  const Eigenpairs e = top_eigenpairs(s, rank);
  REQUIRE(e.values.size() == rank);
  REQUIRE(e.vectors.rows() == 300);
  REQUIRE(e.vectors.cols() == rank);
  const Eigen::MatrixXd sd = dense(s);
  for (int c = 0; c < rank; ++c) {
    const Eigen::VectorXd u = e.vectors.col(c).cast<double>();
    CHECK((sd * u - double{e.values[c]} * u).norm() <= 1e-6 * u.norm());
    CHECK(u.norm() == doctest::Approx(1).epsilon(1e-6));
    if (c > 0) CHECK(e.values[c] <= e.values[c - 1]);
  }
  // The same values as a dense solver's largest ones.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> full(sd);
  for (int c = 0; c < rank; ++c)
    CHECK(e.values[c] == doctest::Approx(full.eigenvalues()[299 - c]).epsilon(1e-6));
  const Eigenpairs again = top_eigenpairs(s, rank);
  CHECK(again.values == e.values);
  CHECK(again.vectors == e.vectors);
  CHECK(test::error_message([&] { top_eigenpairs(s, 300); }).find("rank = 300") !=
        std::string::npos);
}

TEST_CASE("graph: panel products and the Chebyshev filter equal dense double computations") {
  const Embedding x = clustered(700, 16, 6, 6, 3);
  const SparseMatrix s = normalised_affinity(affinity_matrix(exact_knn_graph(x, 8), {}));
  const Eigen::MatrixXd sd = dense(s);
  const CompactRows rows = compact(s);
  // 45 vectors: one full panel and a part-filled one.
  RowMatrix block = RowMatrix::Random(45, 700);
  const Eigen::MatrixXd v = block.cast<double>().transpose();  // 700 x 45, a vector a column
  RowMatrix product;
  multiply(rows, block, product);
  CHECK((product.cast<double>().transpose() - sd * v).cwiseAbs().maxCoeff() <= 1e-5);
  // T_d((S - c) / e) by the three-term recurrence in double, d = 1 and 10, against the
  // filter's rows up to a positive factor each (the filter rescales rows as it goes).
  const double lo = -1, cut = 0.3, c = (cut + lo) / 2, e = (cut - lo) / 2;
  const Eigen::MatrixXd shifted = (sd - c * Eigen::MatrixXd::Identity(700, 700)) / e;
  for (const int degree : {1, 10}) {
    CAPTURE(degree);
    Eigen::MatrixXd previous = v, current = shifted * v;
    for (int k = 2; k <= degree; ++k) {
      const Eigen::MatrixXd next = 2 * shifted * current - previous;
      previous = current;
      current = next;
    }
    RowMatrix filtered = block;
    chebyshev_filter(rows, filtered, degree, lo, cut);
    for (int r = 0; r < 45; ++r) {
      const Eigen::VectorXd want = current.col(r).normalized();
      const Eigen::VectorXd got = filtered.row(r).transpose().cast<double>().normalized();
      CHECK(want.dot(got) >= 1 - 1e-6);
    }
  }
}

TEST_CASE("graph: subspace eigenpairs equal a dense solve's, at a rank Lanczos finds costly") {
  const Embedding x = clustered(1500, 16, 12, 6, 9);
  const SparseMatrix s = normalised_affinity(affinity_matrix(exact_knn_graph(x, 10), {}));
  const Eigen::MatrixXd sd = dense(s);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> full(sd);
  for (const int rank : {5, 120}) {
    CAPTURE(rank);
    SubspaceReport report;
    SubspaceOptions options;
    options.tol = 1e-4f;
    const Eigenpairs e = subspace_eigenpairs(s, rank, options, &report);
    REQUIRE(e.values.size() == rank);
    REQUIRE(e.vectors.rows() == 1500);
    REQUIRE(e.vectors.cols() == rank);
    CHECK(report.residual_max <= 1e-4f);
    CHECK(report.block == rank + std::max(300, rank / 4));
    double worst = 0;
    for (int c = 0; c < rank; ++c) {
      const Eigen::VectorXd u = e.vectors.col(c).cast<double>();
      worst = std::max(worst, (sd * u - double{e.values[c]} * u).norm());
      CHECK(u.norm() == doctest::Approx(1).epsilon(1e-5));
      // Residual r bounds the eigenvalue error by r (and by r^2 / gap where the gap is wide).
      CHECK(std::abs(e.values[c] - full.eigenvalues()[1499 - c]) <= 2e-4);
      if (c > 0) CHECK(e.values[c] <= e.values[c - 1]);
    }
    CHECK(worst <= 2e-4);  // the report's residual, recomputed in double
  }
  // Locking: pairs within tol leave the block before the rest converge, and never return.
  // A small guard, so that the pairs converge over several passes.
  SubspaceOptions watched;
  watched.guard = 30;
  std::vector<int> locked_after_pass;
  watched.on_pass = [&](int, float, int locked) { locked_after_pass.push_back(locked); };
  const Eigenpairs watched_pairs = subspace_eigenpairs(s, 120, watched);
  REQUIRE(locked_after_pass.size() >= 2);
  CHECK(locked_after_pass.back() == 120);
  CHECK(std::any_of(locked_after_pass.begin(), locked_after_pass.end(),
                    [](int locked) { return locked > 0 && locked < 120; }));
  CHECK(std::is_sorted(locked_after_pass.begin(), locked_after_pass.end()));
  CHECK(watched_pairs.residual_max <= 1e-4f);
  // A block of over a third of the space: a dense solve, no passes.
  SubspaceReport dense_report;
  const Eigenpairs most = subspace_eigenpairs(s, 600, {}, &dense_report);
  CHECK(dense_report.passes == 0);
  CHECK(dense_report.residual_max <= 1e-5f);
  CHECK(most.values[599] == doctest::Approx(full.eigenvalues()[900]).epsilon(1e-5));
  // The same seed, the same pairs; another seed, the same values.
  const Eigenpairs a = subspace_eigenpairs(s, 20), b = subspace_eigenpairs(s, 20);
  CHECK(a.values == b.values);
  CHECK(a.vectors == b.vectors);
  SubspaceOptions other;
  other.seed = 7;
  CHECK((subspace_eigenpairs(s, 20, other).values - a.values).cwiseAbs().maxCoeff() <= 2e-4f);
  CHECK(test::error_message([&] { subspace_eigenpairs(s, 1500); })
            .find("rank = 1500 must be in "
                  "[1, n) with n = 1500") != std::string::npos);
  SubspaceOptions stingy;
  stingy.max_passes = 1;
  stingy.tol = 1e-7f;
  CHECK(test::error_message([&] {
          subspace_eigenpairs(s, 20, stingy);
        }).find("above tol 1e-07 after 1 passes of degree 10 (rank = 20, n = 1500)") !=
        std::string::npos);
}

TEST_CASE("graph: a saved kNN graph loads back and corrupt files name the file") {
  const fs::path dir = test::fresh_temp_dir("knn-graph");
  const KnnGraph g = exact_knn_graph(clustered(50, 8, 3, 4, 1), 5);
  save_knn_graph(dir / "g.bin", g);
  const KnnGraph back = load_knn_graph(dir / "g.bin", 50, 5);
  CHECK(back.n == 50);
  CHECK(back.k == 5);
  CHECK(back.ids == g.ids);
  CHECK(back.sims == g.sims);

  std::string bytes;
  {
    std::ifstream in(dir / "g.bin", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  };
  const auto message = [](const fs::path& file, int64_t n = -1, int k = -1) {
    return test::error_message([&] { load_knn_graph(file, n, k); });
  };
  const std::string truncated = message(write("short.bin", bytes.substr(0, bytes.size() - 4)));
  CHECK(truncated.find("short.bin") != std::string::npos);
  CHECK(truncated.find("truncated") != std::string::npos);
  CHECK(message(write("header.bin", bytes.substr(0, 12))).find("header.bin") != std::string::npos);
  std::string magic = bytes;
  magic[0] = 'X';
  CHECK(message(write("magic.bin", magic)).find("magic.bin: not a hamster kNN graph") !=
        std::string::npos);
  std::string out_of_range = bytes;
  const int32_t big = 50;
  out_of_range.replace(24 + 7 * 4, 4, reinterpret_cast<const char*>(&big), 4);  // row 1, column 2
  const std::string range = message(write("range.bin", out_of_range));
  CHECK(range.find("range.bin") != std::string::npos);
  CHECK(range.find("row 1") != std::string::npos);
  const std::string wrong_n = message(dir / "g.bin", 51);
  CHECK(wrong_n.find("g.bin") != std::string::npos);
  CHECK(wrong_n.find("expected 51") != std::string::npos);
  CHECK(message(dir / "g.bin", 50, 6).find("g.bin") != std::string::npos);
  CHECK(message(dir / "missing.bin").find("missing.bin") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("graph: shared kNN graph is built once and loaded from disk by a later store") {
  const fs::path dir = test::fresh_temp_dir("shared-graph");
  Encoded db;
  db.features = clustered(400, 16, 5, 6, 4) * 3.0f;  // not unit rows: the graph normalises
  db.real = Embedding::Zero(400, 8);
  KnnGraphOptions o;
  o.k = 10;
  const std::string key = "knn-feature-k10-hnsw-M16-efc100-efs0-seed100.bin";
  const auto count = [&](const ArtefactStore& store, const std::string& prefix) {
    int c = 0;
    for (const auto& e : store.entries()) c += e.key.rfind(prefix, 0) == 0;
    return c;
  };

  ArtefactStore store(dir);
  const RerankContext ctx{db, store};
  const auto first = shared_knn_graph(ctx, "feature", o);
  const auto second = shared_knn_graph(ctx, "feature", o);
  CHECK(first == second);
  CHECK(count(store, "knn-") == 1);
  CHECK(count(store, "normalised-feature") == 1);
  CHECK(store.entries().size() == 2);
  CHECK(fs::exists(dir / key));
  CHECK(first->ids == build_knn_graph(l2_normalised(db.features), o).ids);

  ArtefactStore later(dir);
  const RerankContext ctx2{db, later};
  const auto loaded = shared_knn_graph(ctx2, "feature", o);
  REQUIRE(later.entries().size() == 1);  // nothing else was needed to load it
  CHECK(later.entries()[0].key == key);
  CHECK(later.entries()[0].from_disk);
  CHECK(loaded->ids == first->ids);
  CHECK(loaded->sims == first->sims);

  // A database of another size does not accept the cached graph.
  Encoded smaller;
  smaller.features = db.features.topRows(300);
  ArtefactStore third(dir);
  const RerankContext ctx3{smaller, third};
  CHECK(test::error_message([&] { shared_knn_graph(ctx3, "feature", o); }).find(key) !=
        std::string::npos);

  // Affinity and eigenpairs reuse the one graph.
  const auto s = shared_affinity(ctx, "feature", o, {});
  CHECK(s == shared_affinity(ctx, "feature", o, {}));
  const auto e = shared_eigenpairs(ctx, "feature", o, {}, 4);
  CHECK(e == shared_eigenpairs(ctx, "feature", o, {}, 4));
  CHECK(e->values.size() == 4);
  CHECK(count(store, "knn-") == 1);
  CHECK(count(store, "affinity-knn-feature-k10-hnsw-M16-efc100-efs0-seed100-gamma3-mutual0") == 1);
  CHECK(count(store, "eigen-") == 1);
  fs::remove_all(dir);
}

TEST_CASE("graph: unknown or missing embeddings are errors naming them") {
  Encoded db;
  db.real = Embedding::Zero(5, 4);
  CHECK(test::error_message([&] { database_embedding(db, "pixels"); }).find("feature, real") !=
        std::string::npos);
  CHECK(test::error_message([&] { database_embedding(db, "feature"); }).find("'feature'") !=
        std::string::npos);
  CHECK(&database_embedding(db, "real") == &db.real);
}

TEST_CASE("graph: columns that are zero in every row are dropped without changing the graph") {
  const Embedding x = l2_normalised(clustered(600, 12, 4, 6, 5).cwiseMax(0.0f));
  Embedding padded = Embedding::Zero(x.rows(), 2 * x.cols() + 1);  // odd columns stay zero
  for (int64_t c = 0; c < x.cols(); ++c) padded.col(2 * c) = x.col(c);
  KnnGraphOptions options;
  options.k = 10;
  const KnnGraph plain = build_knn_graph(x, options);
  const KnnGraph dead = build_knn_graph(padded, options);
  CHECK(dead.ids == plain.ids);
  CHECK(dead.sims == plain.sims);
}
