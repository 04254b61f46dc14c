#include <cmath>
#include <filesystem>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "hashers/hashnet/hashnet_loss.h"
#include "hashers/torch_test_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
using test::rows;

namespace {

// Three items, the first two of one class, paired with each other but not with themselves.
const std::vector<std::vector<float>> kSimilar = {{1, 1, 0}, {1, 1, 0}, {0, 0, 1}};
const std::vector<std::vector<float>> kOffDiagonal = {{0, 1, 1}, {1, 0, 1}, {1, 1, 0}};

}  // namespace

TEST_CASE("HashNet pair weights balance similar against dissimilar pairs") {
  // Valid pairs: 6 ordered pairs; similar (0,1), (1,0): |S1| = 2, |S0| = 4, |S| = 6.
  // w = |S| / |S1| = 3 for similar pairs, |S| / |S0| = 1.5 for dissimilar ones, 0 on the
  // diagonal: similar pairs weigh |S0| / |S1| = 2 times as much as dissimilar ones.
  CHECK(hashnet_pair_weights(rows(kSimilar), rows(kOffDiagonal))
            .allclose(rows({{0, 3, 1.5}, {3, 0, 1.5}, {1.5, 1.5, 0}})));
  // No similar pair at all: the dissimilar pairs weigh |S| / |S0| = 1, and nothing is NaN.
  CHECK(hashnet_pair_weights(rows({{0, 0}, {0, 0}}), rows({{0, 1}, {1, 0}}))
            .equal(rows({{0, 1}, {1, 0}})));
}

TEST_CASE("HashNet beta schedule rises monotonically from 1") {
  CHECK(hashnet_beta(0, 0.005, 0.5) == 1.0);
  CHECK(hashnet_beta(200, 0.005, 0.5) == doctest::Approx(std::sqrt(2.0)));
  CHECK(hashnet_beta(10000, 0.005, 0.5) == doctest::Approx(std::sqrt(51.0)));
  double previous = 0;
  for (int64_t t = 0; t <= 20000; t += 70) {
    const double beta = hashnet_beta(t, 0.005, 0.5);
    CHECK(beta > previous);
    previous = beta;
  }
}

TEST_CASE("HashNet loss on a tiny example - weighted pairwise cross-entropy") {
  // z0 = [1, 0], z1 = [1, 1], z2 = [0, -1]; classes a, a, b; alpha = 0.5.
  // Theta = 0.5 <z_i, z_j>: Theta01 = 0.5, Theta02 = 0, Theta12 = -0.5.
  //   similar (0,1), (1,0): ln(1 + e^0.5) - 0.5 = 0.9740770 - 0.5 = 0.4740770 each
  //   dissimilar (0,2), (2,0): ln 2 = 0.6931472 each; (1,2), (2,1): ln(1 + e^-0.5) = 0.4740770
  // Weighted sum / |S| = (3 * 2 * 0.4740770 + 1.5 * 2 * (0.6931472 + 0.4740770)) / 6 = 1.0576891
  // (the mean over similar pairs plus the mean over dissimilar pairs).
  torch::Tensor z = rows({{1, 0}, {1, 1}, {0, -1}}).requires_grad_(true);
  torch::Tensor l = hashnet_loss(z, z, rows(kSimilar), rows(kOffDiagonal), 0.5);
  CHECK(l.item<double>() == doctest::Approx(1.0576891).epsilon(1e-6));
  l.backward();
  // z2 is only in dissimilar pairs: the gradient moves it away from z0 and z1, whose sum is
  // [2, 1]: dL/dz2 . [2, 1] > 0, so a descent step lowers <z2, z0 + z1>.
  CHECK((z.grad()[2] * torch::tensor({2.f, 1.f})).sum().item<float>() > 0);
  // Large |Theta| stays finite (softplus, not log(1 + exp)).
  torch::Tensor far = rows({{40, 40}, {40, 40}});
  CHECK(std::isfinite(
      hashnet_loss(far, far, rows({{1, 0}, {0, 1}}), rows({{0, 1}, {1, 0}}), 1).item<double>()));
}

TEST_CASE("HashNet learns separating codes and keeps its final beta with the model") {
  const Dataset d = test::synthetic_images(50, 10, 1);
  const auto ids = test::iota_ids(d.size());
  FitContext ctx;
  ctx.seed = 4;
  ctx.log = [](const std::string&) {};
  for (const std::string bank : {"false", "true"}) {
    CAPTURE(bank);
    auto hn = HasherRegistry::instance().create(
        "hashnet", {{"epochs", "4"}, {"batch_size", "50"}, {"memory_bank", bank}}, 16);
    hn->fit(d, ids, ctx);
    const Encoded e = hn->encode(d, ids, 1);
    CHECK(e.codes.distinct() >= 10);
    CHECK(evaluate(d.labels, d.labels, e.codes, e.codes, {}, EvalOptions{{kAll}, {}, {}, 2})
              .get("mAP@all") > 0.6);

    // 500 items in batches of 50: 10 steps an epoch, so the 4th epoch ran at beta =
    // (1 + 0.005 * 30)^0.5 = 1.0723805.
    const auto dir = test::fresh_temp_dir("hashnet-save");
    hn->save(dir);
    const torch::Tensor beta = test::saved_state(dir, "beta");
    CHECK(beta.item<double>() == doctest::Approx(1.0723805));
    auto loaded = HasherRegistry::instance().create("hashnet", {}, 16);
    loaded->load(dir);
    CHECK(loaded->encode(d, ids, 1).real.isApprox(e.real));
    std::filesystem::remove_all(dir);
  }
  CHECK_THROWS_WITH_AS(HasherRegistry::instance().create("hashnet", {{"alpha_scale", "0"}}, 16),
                       "hashnet.alpha_scale must be > 0, got 0", Error);
}
