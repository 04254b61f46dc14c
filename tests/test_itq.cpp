#include <doctest/doctest.h>

#include <Eigen/Core>
#include <filesystem>
#include <limits>
#include <map>

#include "framework/codes/diagnostics.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "framework/npy.h"
#include "hashers/itq/rotation.h"
#include "tests/hasher_helpers.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

namespace {

using test::map_all;
using test::quiet;

// n points around `clusters` random centres in c dimensions, centred: what PCA of
// clustered images looks like.
Eigen::MatrixXd clustered(int n, int c, int clusters, uint64_t seed) {
  Rng rng(seed);
  Eigen::MatrixXd centres(clusters, c), v(n, c);
  for (int k = 0; k < clusters; ++k)
    for (int j = 0; j < c; ++j) centres(k, j) = 3 * rng.normal();
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < c; ++j) v(i, j) = centres(i % clusters, j) + rng.normal();
  v.rowwise() -= v.colwise().mean();
  return v;
}

double off_identity(const Eigen::MatrixXd& r) {
  return (r.transpose() * r - Eigen::MatrixXd::Identity(r.cols(), r.cols())).cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("ITQ rotation stays orthogonal and its quantization loss never increases") {
  const Eigen::MatrixXd v = clustered(400, 16, 8, 1);
  std::vector<double> losses;
  const Eigen::MatrixXd r = itq_rotation(v, 50, 3, &losses);
  CHECK(off_identity(r) < 1e-5);
  CHECK(off_identity(random_rotation(16, 3)) < 1e-5);
  REQUIRE(losses.size() == 51);  // the initial rotation, then one per iteration
  for (size_t t = 1; t < losses.size(); ++t) {
    CAPTURE(t);
    CHECK(losses[t] <= losses[t - 1] * (1 + 1e-12));  // equal up to rounding once converged
  }
  CHECK(losses.back() < 0.9 * losses.front());  // and it learned something
  // The last loss is that of the returned rotation.
  const Eigen::MatrixXd projected = v * r;
  const Eigen::MatrixXd b = projected.unaryExpr([](double x) { return x > 0 ? 1.0 : -1.0; });
  CHECK((b - projected).squaredNorm() == doctest::Approx(losses.back()).epsilon(1e-9));

  // Seeded: the same seed gives the same rotation, another seed another start.
  CHECK(itq_rotation(v, 50, 3) == r);
  CHECK(random_rotation(16, 4) != random_rotation(16, 3));
  std::vector<double> none;
  CHECK(itq_rotation(v, 0, 3, &none) == random_rotation(16, 3));
  CHECK(none.size() == 1);
  CHECK(none[0] == losses[0]);
}

TEST_CASE("PCA directions: the largest eigenvalues first - orthonormal") {
  Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(3, 3);
  cov.diagonal() << 1, 5, 3;
  const Eigen::MatrixXd w = top_principal_directions(cov, 2);
  CHECK(std::abs(w(1, 0)) == doctest::Approx(1.0));  // axis 1 (variance 5) first
  CHECK(std::abs(w(2, 1)) == doctest::Approx(1.0));  // then axis 2 (variance 3)
  CHECK(off_identity(w) < 1e-12);
  CHECK_THROWS_WITH_AS(top_principal_directions(cov, 4),
                       "PCA: asked for 4 directions of 3-dimensional data", Error);
}

TEST_CASE("ITQ codes are at least as balanced as a random rotation's on clustered data") {
  // iterations 0 is PCA with the very random rotation ITQ starts from.
  const Dataset d = test::synthetic_images(40, 10, 2);
  const auto ids = test::iota_ids(d.size());
  for (uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    auto itq = test::make_hasher("itq", 16),
         random = test::make_hasher("itq", 16, {{"iterations", "0"}});
    itq->fit(d, ids, quiet(seed));
    random->fit(d, ids, quiet(seed));
    const Encoded a = itq->encode(d, ids, 1), b = random->encode(d, ids, 1);
    const CodeDiagnostics learned = code_diagnostics(a.codes, a.real);
    const CodeDiagnostics rotated = code_diagnostics(b.codes, b.real);
    CHECK(learned.bit_balance <= rotated.bit_balance);
    CHECK(learned.quantization_error < rotated.quantization_error);
  }
}

TEST_CASE("ITQ: seeded - beats LSH - saved and loaded gives the same codes") {
  const Dataset d = test::synthetic_images(30, 10, 5);
  const auto ids = test::iota_ids(d.size());
  auto a = test::make_hasher("itq", 32), b = test::make_hasher("itq", 32),
       lsh = test::make_hasher("lsh", 32);
  a->fit(d, ids, quiet(11));
  b->fit(d, ids, quiet(11));
  lsh->fit(d, ids, quiet(11));
  const Encoded ea = a->encode(d, ids, 1), el = lsh->encode(d, ids, 1);
  CHECK(ea.codes.data() == b->encode(d, ids, 1).codes.data());
  CHECK(ea.real.rows() == d.size());
  CHECK(ea.real.cols() == 32);
  // The same feature as LSH's (centred pixels), so `feature` re-ranks both alike.
  CHECK(ea.features == el.features);
  CHECK(map_all(ea, d) > map_all(el, d));

  auto other = test::make_hasher("itq", 32);
  other->fit(d, ids, quiet(12));
  CHECK(other->encode(d, ids, 1).codes.data() != ea.codes.data());

  const auto dir = test::fresh_temp_dir("itq-save");
  a->save(dir);
  auto loaded = test::make_hasher("itq", 32);
  loaded->load(dir);
  const Encoded el2 = loaded->encode(d, ids, 1);
  CHECK(el2.codes.data() == ea.codes.data());
  CHECK(el2.real == ea.real);
  std::filesystem::remove_all(dir);
}

TEST_CASE("ITQ refuses a damaged saved model - naming the file") {
  const Dataset d = test::synthetic_images(10, 10, 4);
  auto itq = test::make_hasher("itq", 16);
  itq->fit(d, test::iota_ids(d.size()), quiet(0));
  const auto dir = test::fresh_temp_dir("itq-damage");
  itq->save(dir);
  CHECK_THROWS_WITH_AS(test::make_hasher("itq", 32)->load(dir),
                       doctest::Contains("rotation.npy: shape 16x16, expected 32x32"), Error);
  auto refused = [&](const std::string& expected) {
    const std::string message =
        test::error_message([&] { test::make_hasher("itq", 16)->load(dir); });
    CAPTURE(message);
    CHECK(message.find(expected) != std::string::npos);
    CHECK(message.find("rerun with --force") != std::string::npos);
  };
  const Embedding rotation = load_embedding(dir / "rotation.npy");
  std::filesystem::resize_file(dir / "rotation.npy",
                               std::filesystem::file_size(dir / "rotation.npy") / 2);
  refused("rotation.npy: npy shape '16,16' needs more data than the file's");
  save_embedding(dir / "rotation.npy", 2 * rotation);
  refused("rotation.npy: columns are not orthonormal");
  save_embedding(dir / "rotation.npy", rotation);
  save_embedding(dir / "mean.npy", Embedding::Zero(1, 10));
  refused("mean.npy: shape 1x10, expected 1x784");
  save_embedding(dir / "mean.npy", Embedding::Zero(1, 784));
  Embedding pca = load_embedding(dir / "pca.npy");
  pca(3, 3) = std::numeric_limits<float>::quiet_NaN();
  save_embedding(dir / "pca.npy", pca);
  refused("pca.npy: holds NaN or infinite values");
  std::filesystem::remove_all(dir);
}

TEST_CASE("ITQ refuses more bits than pixel values - and bad settings") {
  const Dataset small = test::synthetic_images(5, 2, 1, 4);  // 4x4 = 16 pixel values
  CHECK_THROWS_WITH_AS(
      test::make_hasher("itq", 32)->fit(small, test::iota_ids(small.size()), quiet(0)),
      "itq: 32 bits need 32 PCA directions, but synthetic images have only 16 "
      "pixel values; use at most 16 bits",
      Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("itq", 16, {{"iterations", "-1"}}),
                       "itq: iterations must be >= 0, got -1", Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("itq", 16)->encode(small, {0}, 1),
                       "itq: encode() before fit() or load()", Error);
  auto itq = test::make_hasher("itq", 16);
  itq->fit(small, test::iota_ids(small.size()), quiet(0));  // exactly as many bits as values
  const Dataset other = test::synthetic_images(1, 2, 1, 8);
  CHECK_THROWS_WITH_AS(itq->encode(other, {0}, 1),
                       "itq: fitted on images of 16 values, got 64 from synthetic", Error);
}
