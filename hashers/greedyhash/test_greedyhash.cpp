#include <filesystem>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "hashers/greedyhash/greedyhash_loss.h"
#include "hashers/torch_test_helpers.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
using test::rows;

TEST_CASE("GreedyHash straight-through gradient equals the gradient with respect to the codes") {
  const torch::Tensor h0 = rows({{0.3, -1.2, 0.7}, {-0.1, 0.5, 2.0}});
  const torch::Tensor w = rows({{0.4, -0.3, 0.2}, {-0.5, 0.1, 0.6}, {0.2, 0.7, -0.4}});
  const torch::Tensor labels = rows({{0, 1, 0}, {0, 0, 1}});
  auto classify = [&](const torch::Tensor& b) {
    return greedyhash_classification_loss(b.matmul(w.t()), labels, true);
  };
  // The gradient the classifier sends to the binary codes themselves.
  torch::Tensor b = torch::sign(h0).requires_grad_(true);
  classify(b).backward();
  // The same loss through the straight-through sign: forward value sign(h), and h receives
  // exactly dL/db.
  torch::Tensor h = h0.clone().requires_grad_(true);
  torch::Tensor codes = sign_straight_through(h);
  CHECK(codes.equal(torch::sign(h0)));
  classify(codes).backward();
  CHECK(b.grad().abs().sum().item<float>() > 0.1f);
  CHECK(h.grad().allclose(b.grad(), 0, 1e-7));
}

TEST_CASE("GreedyHash penalty mean of cubed | |h| - 1 | - value and gradient") {
  // h = [[0.5, -2, 1], [0, 1.5, -1]]: | |h| - 1 |^3 = 0.125, 1, 0, 1, 0.125, 0: mean 0.375.
  torch::Tensor h = rows({{0.5, -2, 1}, {0, 1.5, -1}}).requires_grad_(true);
  torch::Tensor p = greedyhash_penalty(h);
  CHECK(p.item<double>() == doctest::Approx(0.375));
  p.backward();
  // d/dh = 3 (|h| - 1)^2 sign(|h| - 1) sign(h) / 6: h = 0.5: 3 * 0.25 * -1 / 6 = -0.125 (up,
  // toward 1); h = -2: 3 * 1 * 1 * -1 / 6 = -0.5 (up, toward -1); h = 1: 0.
  CHECK(h.grad()[0][0].item<double>() == doctest::Approx(-0.125));
  CHECK(h.grad()[0][1].item<double>() == doctest::Approx(-0.5));
  CHECK(h.grad()[0][2].item<double>() == doctest::Approx(0));
}

TEST_CASE("GreedyHash classification loss - cross-entropy for one label and BCE for several") {
  const torch::Tensor logits = rows({{2, 0}, {0, 0}});
  // Single label, classes 0 and 1: -ln(e^2 / (e^2 + 1)) = 0.1269280, -ln(1/2) = 0.6931472;
  // mean 0.4100376.
  CHECK(greedyhash_classification_loss(logits, rows({{1, 0}, {0, 1}}), true).item<double>() ==
        doctest::Approx(0.4100376).epsilon(1e-6));
  // Multi-label targets [[1, 1], [0, 0]], s the logistic function: -ln s(2) = 0.1269280,
  // -ln s(0) = 0.6931472, and -ln(1 - s(0)) = 0.6931472 twice: mean 0.5515924.
  CHECK(greedyhash_classification_loss(logits, rows({{1, 1}, {0, 0}}), false).item<double>() ==
        doctest::Approx(0.5515924).epsilon(1e-6));
}

TEST_CASE("GreedyHash classifier parameters receive gradients and are trained with the network") {
  // Through the loss: the classifier's gradient is non-zero where its class is involved.
  torch::Tensor w = torch::full({3, 2}, 0.1).requires_grad_(true);
  torch::Tensor h = rows({{0.8, -0.6}}).requires_grad_(true);
  greedyhash_classification_loss(sign_straight_through(h).matmul(w.t()), rows({{0, 0, 1}}), true)
      .backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().abs().sum().item<float>() > 0.1f);
  CHECK(h.grad().abs().sum().item<float>() > 0.0f);

  // In a fit: the classifier saved with the model predicts the training items' classes from
  // their codes, which a classifier left at its random start would not (chance is 0.1).
  const auto [d, ids, gh, e] = test::fit_separating("greedyhash", 2);

  const auto dir = test::fresh_temp_dir("greedyhash-save");
  gh->save(dir);
  const torch::Tensor classifier = test::saved_state(dir, "classifier");
  CHECK(classifier.sizes() == torch::IntArrayRef{10, 16});
  torch::Tensor codes =
      torch::from_blob(const_cast<float*>(e.real.data()), {e.real.rows(), 16}).sign();
  torch::Tensor predicted = codes.matmul(classifier.t()).argmax(1);
  int correct = 0;
  for (int64_t i = 0; i < d.size(); ++i)
    correct += LabelSet::of(static_cast<int>(predicted[i].item<int64_t>())) == d.labels[i];
  CHECK(correct > 0.9 * d.size());
  std::filesystem::remove_all(dir);
  CHECK_THROWS_WITH_AS(HasherRegistry::instance().create("greedyhash", {{"alpha", "-0.1"}}, 16),
                       "greedyhash.alpha must be >= 0, got -0.1", Error);
}
