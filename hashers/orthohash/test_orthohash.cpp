#include <filesystem>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "hashers/orthohash/orthohash_loss.h"
#include "hashers/torch_test_helpers.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
using test::rows;

TEST_CASE("OrthoHash loss: cosine cross-entropy with a margin - value and gradient") {
  // Codes c0 = [1, 1], c1 = [1, -1]; s = 2, m = 0.5.
  // Item 0: u = [2, 0], class 0. cos to c0 and c1 = 0.7071068 each; logits
  //   2 (0.7071068 - 0.5) = 0.4142136 and 2 * 0.7071068 = 1.4142136:
  //   -log softmax_0 = 1 + ln(1 + e^-1) = 1.3132617 (the margin costs the true class).
  // Item 1: u = [0, -3], classes 0 and 1 (target 1/2 each). cos -0.7071068 and 0.7071068;
  //   logits -2.4142136 and 0.4142136; log-sum-exp 0.4716385:
  //   (2.8858521 + 0.0574249) / 2 = 1.4716385.
  // Mean 1.3924501.
  const torch::Tensor codes = rows({{1, 1}, {1, -1}});
  torch::Tensor u = rows({{2, 0}, {0, -3}}).requires_grad_(true);
  const torch::Tensor labels = rows({{1, 0}, {1, 1}});
  torch::Tensor l = orthohash_loss(u, codes, labels, 2, 0.5);
  CHECK(l.item<double>() == doctest::Approx(1.3924501).epsilon(1e-6));
  // Cosine: the scale of u does not matter.
  CHECK(orthohash_loss(3 * u.detach(), codes, labels, 2, 0.5).item<double>() ==
        doctest::Approx(1.3924501).epsilon(1e-6));
  l.backward();
  // A descent step turns item 0 toward its class code c0 = [1, 1] and away from c1.
  CHECK((u.grad()[0] * codes[0]).sum().item<float>() < 0);
  CHECK((u.grad()[0] * codes[1]).sum().item<float>() > 0);
  // An item without labels adds nothing but counts in the mean.
  CHECK(orthohash_loss(rows({{2, 0}, {1, 1}}), codes, rows({{1, 0}, {0, 0}}), 2, 0.5)
            .item<double>() == doctest::Approx(1.3132617 / 2).epsilon(1e-6));
}

TEST_CASE("OrthoHash learns separating codes and keeps its codebook with the model") {
  const auto [d, ids, oh, e] = test::fit_separating("orthohash", 5);

  const auto dir = test::fresh_temp_dir("orthohash-save");
  oh->save(dir);
  const torch::Tensor codebook = test::saved_state(dir, "codebook");
  // 10 classes at 16 bits: the first 10 rows of H_16, pairwise orthogonal.
  CHECK(codebook.matmul(codebook.t()).equal(16 * torch::eye(10)));
  test::check_loads_same_codes("orthohash", 16, dir, d, ids, e);
  std::filesystem::remove_all(dir);
  CHECK_THROWS_WITH_AS(HasherRegistry::instance().create("orthohash", {{"scale", "0"}}, 16),
                       "orthohash.scale must be > 0, got 0", Error);
}
