// DSDH's discrete steps checked against an independent ridge solve, hand-worked examples
// and brute force; the plugin on small generated images, its W and B kept with the model.
#include <Eigen/Dense>
#include <filesystem>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "hashers/dsdh/dsdh_steps.h"
#include "hashers/torch_test_helpers.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

namespace {

using test::matrix;

Eigen::MatrixXd to_eigen(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat64).contiguous();
  Eigen::MatrixXd m(c.size(0), c.size(1));
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t j = 0; j < c.size(1); ++j) m(i, j) = c[i][j].item<double>();
  return m;
}

// Small random DSDH problem: B in {-1, +1}^{bits x n}, U real, Y multi-hot (every item
// has one or two of c labels), all double.
struct Problem {
  torch::Tensor B, U, Y;
};
Problem random_problem(int64_t bits, int64_t n, int64_t c, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto opts = torch::TensorOptions(torch::kFloat64);
  Problem p;
  p.B = torch::where(torch::rand({bits, n}, gen, opts) > 0.5, torch::ones({bits, n}, opts),
                     -torch::ones({bits, n}, opts));
  p.U = torch::randn({bits, n}, gen, opts);
  p.Y = (torch::rand({c, n}, gen, opts) > 0.7).to(torch::kFloat64);
  p.Y.index_put_({torch::randint(c, {n}, gen, torch::kLong), torch::arange(n)}, 1.0);
  return p;
}

bool only_plus_minus_one(const torch::Tensor& b) {
  return ((b == 1) | (b == -1)).all().item<bool>();
}

using test::map_all;
using test::quiet;

}  // namespace

TEST_CASE("DSDH W-step equals the ridge solution solved independently") {
  for (double nu_over_mu : {100.0, 0.5}) {
    const Problem p = random_problem(6, 40, 3, 11);
    const torch::Tensor w = dsdh_w_step(p.B, p.Y, nu_over_mu);
    REQUIRE(w.size(0) == 6);  // bits x C
    REQUIRE(w.size(1) == 3);
    // The normal equations of min_W ||Y - W^T B||^2 + (nu/mu) ||W||^2:
    // (B B^T + (nu/mu) I) W = B Y^T, solved with Eigen's LDL^T.
    const Eigen::MatrixXd b = to_eigen(p.B), y = to_eigen(p.Y);
    const Eigen::MatrixXd gram = b * b.transpose() + nu_over_mu * Eigen::MatrixXd::Identity(6, 6);
    const Eigen::MatrixXd expected = gram.ldlt().solve(b * y.transpose());
    CHECK((to_eigen(w) - expected).cwiseAbs().maxCoeff() < 1e-10);
  }
  // By hand: one bit, B = (1, -1, 1), Y = (1, 0, 1), nu/mu = 1:
  // W = (B.B + 1)^-1 B.Y = (3 + 1)^-1 * 2 = 0.5.
  CHECK(dsdh_w_step(matrix({{1, -1, 1}}), matrix({{1, 0, 1}}), 1.0).item<double>() ==
        doctest::Approx(0.5));
}

TEST_CASE("DSDH B-step objective and one DCC step worked by hand") {
  // One bit, two items, one class: B = (1, -1), W = (2), Y = (1, 0), U = (0.5, 0.5),
  // eta/mu = 1. Y - W^T B = (1 - 2, 0 + 2) = (-1, 2): 1 + 4 = 5; B - U = (0.5, -1.5):
  // 0.25 + 2.25 = 2.5; objective 7.5.
  const auto b = matrix({{1, -1}}), w = matrix({{2}}), y = matrix({{1, 0}}),
             u = matrix({{0.5, 0.5}});
  CHECK(dsdh_b_objective(b, w, y, u, 1.0) == doctest::Approx(7.5));
  // With one bit B' is empty: b = sign(p), p = W Y + U = (2.5, 0.5) -> (1, 1);
  // objective (1 + 4) + (0.25 + 0.25) = 5.5.
  const auto swept = dsdh_b_sweep(b, w, y, u, 1.0);
  CHECK(torch::equal(swept, matrix({{1, 1}})));
  CHECK(dsdh_b_objective(swept, w, y, u, 1.0) == doctest::Approx(5.5));

  // Two bits, the B'^T W' w_k term at work: B = [[1, 1], [1, -1]], W = [[1], [1]],
  // Y = (0, 0), eta/mu = 0 (P = 0). Row 0: B'^T W' w_0 = (1, -1) * (1 * 1) -> b_0 =
  // sign(-(1, -1)) = (-1, 1). Row 1 sees the new row 0: sign(-(-1, 1)) = (1, -1).
  // W^T B goes from (2, 0) (objective 4) to (0, 0) (objective 0).
  const auto b2 = matrix({{1, 1}, {1, -1}}), w2 = matrix({{1}, {1}}), y2 = matrix({{0, 0}});
  const auto u2 = torch::zeros({2, 2}, torch::kFloat64);
  CHECK(dsdh_b_objective(b2, w2, y2, u2, 0.0) == doctest::Approx(4));
  const auto swept2 = dsdh_b_sweep(b2, w2, y2, u2, 0.0);
  CHECK(torch::equal(swept2, matrix({{-1, 1}, {1, -1}})));
  CHECK(dsdh_b_objective(swept2, w2, y2, u2, 0.0) == doctest::Approx(0).epsilon(1e-12));
}

TEST_CASE("each DCC row update is the exact minimiser found by brute force") {
  // bits 3, 5 items: each row has 2^5 candidates; pick the best given the other rows, in
  // row order, and compare with the sweep.
  for (uint64_t seed : {1, 2, 3, 4}) {
    CAPTURE(seed);
    const Problem p = random_problem(3, 5, 2, seed);
    const torch::Tensor w =
        torch::randn({3, 2}, at::make_generator<at::CPUGeneratorImpl>(seed + 100), torch::kFloat64);
    torch::Tensor b = p.B.clone();
    for (int64_t k = 0; k < 3; ++k) {
      double best = 1e300;
      torch::Tensor best_row;
      for (int mask = 0; mask < 32; ++mask) {
        torch::Tensor candidate = b.clone();
        for (int i = 0; i < 5; ++i) candidate[k][i] = (mask >> i & 1) ? 1.0 : -1.0;
        const double f = dsdh_b_objective(candidate, w, p.Y, p.U, 0.7);
        if (f < best) best = f, best_row = candidate[k].clone();
      }
      b[k] = best_row;
    }
    CHECK(torch::equal(dsdh_b_sweep(p.B, w, p.Y, p.U, 0.7), b));
  }
}

TEST_CASE("a DCC sweep never increases the B-step objective and keeps B in plus or minus one") {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    CAPTURE(seed);
    const Problem p = random_problem(16, 60, 5, seed);
    torch::Tensor b = p.B;
    // First sweep with an arbitrary W, then W-steps between sweeps as in training.
    torch::Tensor w =
        torch::randn({16, 5}, at::make_generator<at::CPUGeneratorImpl>(seed + 50), torch::kFloat64);
    double before = dsdh_b_objective(b, w, p.Y, p.U, 1.0);
    for (int sweep = 0; sweep < 3; ++sweep) {
      b = dsdh_b_sweep(b, w, p.Y, p.U, 1.0);
      const double after = dsdh_b_objective(b, w, p.Y, p.U, 1.0);
      CHECK(after <= before + 1e-9 * before);
      CHECK(only_plus_minus_one(b));
      // The W-step lowers the full objective mu ||Y - W^T B||^2 + nu ||W||^2 (B fixed);
      // here mu = nu = 1, and the B-step objective's W terms are ||Y - W^T B||^2.
      const auto full = [&](const torch::Tensor& ww) {
        return dsdh_b_objective(b, ww, p.Y, p.U, 1.0) + ww.pow(2).sum().item<double>();
      };
      const torch::Tensor next = dsdh_w_step(b, p.Y, 1.0);
      CHECK(full(next) <= full(w) + 1e-9 * full(w));
      w = next;
      before = dsdh_b_objective(b, w, p.Y, p.U, 1.0);
    }
  }
  // A tie (p_k - B'^T W' w_k exactly 0) keeps the bit: W = 0, U = 0 make every q zero.
  const auto b = matrix({{1, -1, 1}});
  CHECK(torch::equal(dsdh_b_sweep(b, torch::zeros({1, 1}, torch::kFloat64), matrix({{1, 0, 1}}),
                                  torch::zeros({1, 3}, torch::kFloat64), 1.0),
                     b));
}

TEST_CASE("DSDH learns with multi-label data and keeps W and B with the model") {
  // Every third item also carries the next class's label.
  Dataset d = test::synthetic_images(40, 5, 4);
  for (int64_t i = 0; i < d.size(); i += 3) d.labels[i].set(static_cast<int>((i + 1) % 5));
  const auto ids = test::iota_ids(d.size());
  const int bits = 16;
  auto dsdh =
      HasherRegistry::instance().create("dsdh", {{"epochs", "4"}, {"batch_size", "50"}}, bits);
  dsdh->fit(d, ids, quiet(7));
  const Encoded e = dsdh->encode(d, ids, 1);
  CHECK(e.codes.distinct() >= 5);
  CHECK(map_all(e, d) > 0.6);

  auto dir = test::fresh_temp_dir("dsdh-save");
  dsdh->save(dir);
  const torch::Tensor b = test::saved_state(dir, "B");
  const torch::Tensor w = test::saved_state(dir, "W");
  CHECK(b.size(0) == bits);
  CHECK(b.size(1) == d.size());
  CHECK(w.size(0) == bits);
  CHECK(w.size(1) == 5);
  CHECK(only_plus_minus_one(b));
  // The kept W is the ridge classifier of the kept B (mu = 0.01, nu = 1: nu/mu = 100).
  torch::Tensor y = torch::zeros({5, d.size()}, torch::kFloat64);
  for (int64_t i = 0; i < d.size(); ++i)
    for (int c = 0; c < 5; ++c)
      if (d.labels[i].test(c)) y[c][i] = 1.0;
  CHECK(torch::allclose(w.to(torch::kFloat64), dsdh_w_step(b.to(torch::kFloat64), y, 100.0), 1e-4,
                        1e-5));

  // Loaded and saved again: the same W and B, the same codes.
  auto loaded = HasherRegistry::instance().create("dsdh", {}, bits);
  loaded->load(dir);
  CHECK(loaded->encode(d, ids, 1).codes.data() == e.codes.data());
  auto again = test::fresh_temp_dir("dsdh-save-again");
  loaded->save(again);
  CHECK(torch::equal(test::saved_state(again, "B"), b));
  CHECK(torch::equal(test::saved_state(again, "W"), w));
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(again);
}

TEST_CASE("DSDH rejects parameters out of range") {
  auto make = [](const std::string& key, const std::string& value) {
    return HasherRegistry::instance().create("dsdh", {{key, value}}, 16);
  };
  CHECK_THROWS_WITH_AS(make("mu", "0"), "dsdh.mu must be > 0, got 0", Error);
  CHECK_THROWS_WITH_AS(make("nu", "-1"), "dsdh.nu must be > 0, got -1", Error);
  CHECK_THROWS_WITH_AS(make("eta", "-0.5"), "dsdh.eta must be >= 0, got -0.5", Error);
  CHECK_THROWS_WITH_AS(make("dcc_sweeps", "0"), "dsdh.dcc_sweeps must be >= 1, got 0", Error);
}
