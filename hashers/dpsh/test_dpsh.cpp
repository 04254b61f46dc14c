// DPSH's losses against values worked by hand, and the plugin on small generated images.
#include <cmath>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "hashers/dpsh/dpsh_loss.h"
#include "hashers/torch_doctest.h"
#include "hashers/torch_test_helpers.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

namespace {

using test::map_all;
using test::matrix;
using test::quiet;

}  // namespace

TEST_CASE("DPSH pairwise likelihood matches the formula worked by hand") {
  // u = (2, 0), (0, 1), (-1, -1); items 0 and 1 share a class, item 2 is alone.
  // Theta = 1/2 u u^T = [[2, 0, -1], [0, 0.5, -0.5], [-1, -0.5, 1]].
  // log(1 + e^Theta) - s Theta, pair by pair:
  //   s = 1: Theta 2 -> log(1 + e^-2) = 0.126928; Theta 0 -> log 2 = 0.693147 (twice);
  //          Theta 0.5 -> log(1 + e^-0.5) = 0.474077; Theta 1 -> log(1 + e^-1) = 0.313262
  //   s = 0: Theta -1 -> log(1 + e^-1) = 0.313262 (twice); Theta -0.5 -> 0.474077 (twice)
  // sum = 3.875238, mean over the 9 pairs = 0.430582.
  const torch::Tensor u = matrix({{2, 0}, {0, 1}, {-1, -1}});
  const torch::Tensor s = matrix({{1, 1, 0}, {1, 1, 0}, {0, 0, 1}});
  CHECK(pairwise_likelihood_loss(u, u, s).item<double>() ==
        doctest::Approx(0.430582).epsilon(1e-5));
  // A batch of the first two items against all three: the first two rows' six pairs,
  // (0.126928 + 0.693147 + 0.313262 + 0.693147 + 0.474077 + 0.474077) / 6 = 0.462440.
  CHECK(pairwise_likelihood_loss(u.slice(0, 0, 2), u, s.slice(0, 0, 2)).item<double>() ==
        doctest::Approx(0.462440).epsilon(1e-5));
}

TEST_CASE("DPSH pairwise likelihood stays finite where e^Theta overflows") {
  // Theta = 1/2 * 20 * 20 = 200 (e^200 is inf in floats): log(1 + e^200) - s 200 is 200
  // for a dissimilar pair and 0 for a similar one; Theta = -200 mirrors it.
  const auto a = torch::tensor({{20.0f, 0.0f}});
  const auto zero = torch::zeros({1, 1}), one = torch::ones({1, 1});
  CHECK(pairwise_likelihood_loss(a, a, zero).item<double>() == doctest::Approx(200));
  CHECK(pairwise_likelihood_loss(a, a, one).item<double>() == doctest::Approx(0).epsilon(1e-6));
  CHECK(pairwise_likelihood_loss(a, -a, one).item<double>() == doctest::Approx(200));
  CHECK(pairwise_likelihood_loss(a, -a, zero).item<double>() == doctest::Approx(0).epsilon(1e-6));
  const auto u = a.clone().requires_grad_(true);
  pairwise_likelihood_loss(u, a, zero).backward();
  // d/du of 1/2 u.v: 1/2 v = (10, 0), times sigmoid(200) - 0 = 1.
  CHECK(u.grad()[0][0].item<double>() == doctest::Approx(10));
  CHECK(std::isfinite(u.grad().sum().item<double>()));
}

TEST_CASE("DPSH pairwise likelihood pulls similar pairs together and pushes others apart") {
  // u = 0, v = (1, 2): Theta = 0, d loss / du = (sigmoid(0) - s) v / 2 = (0.5 - s) v / 2:
  // similar (s = 1): -(0.25, 0.5), so a descent step moves u toward v;
  // dissimilar (s = 0): +(0.25, 0.5), a step moves u away from v.
  const auto v = torch::tensor({{1.0, 2.0}}, torch::kFloat64);
  for (double s : {1.0, 0.0}) {
    auto u = torch::zeros({1, 2}, torch::kFloat64).requires_grad_(true);
    auto loss = pairwise_likelihood_loss(u, v, torch::full({1, 1}, s, torch::kFloat64));
    CHECK(loss.item<double>() == doctest::Approx(std::log(2.0)));
    loss.backward();
    CHECK(u.grad()[0][0].item<double>() == doctest::Approx((0.5 - s) * 0.5));
    CHECK(u.grad()[0][1].item<double>() == doctest::Approx((0.5 - s) * 1.0));
    const double toward = -(u.grad() * v).sum().item<double>();  // descent direction . v
    CHECK((s == 1.0 ? toward > 0 : toward < 0));
  }
}

TEST_CASE("quantization loss matches the hand value and its gradient points from u to b") {
  // u = [[0.5, -2], [0.1, 0.3]], b = sign(u) = [[1, -1], [1, 1]]:
  // ||b - u||^2 = 0.25 + 1 = 1.25 and 0.81 + 0.49 = 1.30; mean over the 2 items 1.275.
  // Gradient 2 (u - b) / 2 = u - b, so minus the gradient is exactly b - u.
  auto u = matrix({{0.5, -2}, {0.1, 0.3}}).requires_grad_(true);
  const torch::Tensor b = binary_sign(u.detach());
  CHECK(torch::equal(b, matrix({{1, -1}, {1, 1}})));
  auto loss = quantization_loss(u, b);
  CHECK(loss.item<double>() == doctest::Approx(1.275));
  loss.backward();
  CHECK(torch::allclose(-u.grad(), b - u.detach()));

  // A target on the other side of 0 (DSDH's B can disagree with sign(u)): the gradient is
  // still real and points across. u = (0.5, -2), b = (-1, 1): 1.5^2 + 3^2 = 11.25,
  // gradient 2 (u - b) = (3, -6).
  auto w = matrix({{0.5, -2}}).requires_grad_(true);
  auto far = quantization_loss(w, matrix({{-1, 1}}));
  CHECK(far.item<double>() == doctest::Approx(11.25));
  far.backward();
  CHECK(w.grad()[0][0].item<double>() == doctest::Approx(3));
  CHECK(w.grad()[0][1].item<double>() == doctest::Approx(-6));
  // No gradient flows into the target.
  auto target = matrix({{-1, 1}}).requires_grad_(true);
  CHECK(!quantization_loss(w.detach(), target).requires_grad());

  // binary_sign maps 0 to -1, as the codes do (a bit is set for x > 0 only).
  CHECK(torch::equal(binary_sign(torch::tensor({0.0, -0.0, 1e-9})),
                     torch::tensor({-1.0, -1.0, 1.0})));
}

TEST_CASE("DPSH learns separating codes with and without the memory bank") {
  const Dataset d = test::synthetic_images(50, 10, 1);
  const auto ids = test::iota_ids(d.size());
  for (const std::string bank : {"true", "false"}) {
    CAPTURE(bank);
    auto dpsh = HasherRegistry::instance().create(
        "dpsh", {{"epochs", "4"}, {"batch_size", "50"}, {"memory_bank", bank}}, 16);
    dpsh->fit(d, ids, quiet(7));
    const Encoded e = dpsh->encode(d, ids, 1);
    CHECK(e.codes.distinct() >= 10);
    CHECK(map_all(e, d) > 0.6);  // chance is 0.1
  }
}

TEST_CASE("DPSH is seeded and rejects a negative eta") {
  const Dataset d = test::synthetic_images(10, 4, 2);
  const auto ids = test::iota_ids(d.size());
  const std::map<std::string, std::string> p = {{"epochs", "2"}, {"batch_size", "20"}};
  auto a = HasherRegistry::instance().create("dpsh", p, 32);
  auto b = HasherRegistry::instance().create("dpsh", p, 32);
  a->fit(d, ids, quiet(3));
  b->fit(d, ids, quiet(3));
  CHECK(a->encode(d, ids, 1).codes.data() == b->encode(d, ids, 1).codes.data());
  CHECK_THROWS_WITH_AS(HasherRegistry::instance().create("dpsh", {{"eta", "-1"}}, 16),
                       "dpsh.eta must be >= 0, got -1", Error);
}
