#include <filesystem>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "hashers/csq/csq_loss.h"
#include "hashers/hash_centres.h"
#include "hashers/torch_test_helpers.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
using test::rows;

namespace {

// Hamming distance between +-1 rows: the places where they differ.
torch::Tensor pairwise_hamming(const torch::Tensor& c) { return (c.size(1) - c.matmul(c.t())) / 2; }

}  // namespace

TEST_CASE("CSQ Hadamard centres are pairwise exactly bits/2 apart at 16 32 and 64 bits") {
  for (int bits : {16, 32, 64}) {
    CAPTURE(bits);
    torch::Tensor c = hash_centres(bits, bits, 0);
    CHECK(c.sizes() == torch::IntArrayRef{bits, bits});
    CHECK(c.abs().eq(1).all().item<bool>());
    torch::Tensor d = pairwise_hamming(c);
    torch::Tensor off_diagonal = 1 - torch::eye(bits);
    CHECK(d.mul(off_diagonal).eq(off_diagonal * (bits / 2)).all().item<bool>());
    CHECK(d.diagonal().eq(0).all().item<bool>());
    // With 2 * bits classes the second half is the negated first: row i and row i + bits are
    // bits apart, every other pair bits/2.
    torch::Tensor both = pairwise_hamming(hash_centres(2 * bits, bits, 0));
    for (int i = 0; i < bits; ++i) CHECK(both[i][i + bits].item<float>() == bits);
    CHECK(both[0][bits + 1].item<float>() == bits / 2);
  }
}

TEST_CASE("CSQ uses Hadamard rows for 10 classes at 16 bits and seeded coins otherwise") {
  // H_16 and -H_16 give 32 candidates: the 10 classes take the first 10 rows of H_16, and the
  // seed does not enter.
  torch::Tensor c = hash_centres(10, 16, 1);
  CHECK(c.equal(sylvester_hadamard(16).slice(0, 0, 10)));
  CHECK(c.equal(hash_centres(10, 16, 2)));
  CHECK(sylvester_hadamard(4).equal(
      rows({{1, 1, 1, 1}, {1, -1, 1, -1}, {1, 1, -1, -1}, {1, -1, -1, 1}})));
  // 40 classes > 2 * 16, and 24 bits (not a power of two): random centres, seeded.
  for (auto [classes, bits] : {std::pair{40, 16}, std::pair{10, 24}}) {
    torch::Tensor a = hash_centres(classes, bits, 5);
    CHECK(a.sizes() == torch::IntArrayRef{classes, bits});
    CHECK(a.abs().eq(1).all().item<bool>());
    CHECK(a.equal(hash_centres(classes, bits, 5)));
    CHECK(!a.equal(hash_centres(classes, bits, 6)));
  }
  CHECK_THROWS_WITH_AS(sylvester_hadamard(12),
                       "Hadamard matrix: size must be a power of two, got 12", Error);
}

TEST_CASE("CSQ multi-label centre is the sign of the mean of the label centres") {
  const torch::Tensor centres = rows({{1, 1, 1, 1}, {1, -1, 1, -1}, {1, 1, -1, -1}});
  const torch::Tensor tie_break = torch::tensor({1.f, -1.f, -1.f, 1.f});
  const torch::Tensor labels = rows({{1, 0, 0}, {1, 1, 0}, {1, 1, 1}, {0, 1, 1}, {0, 0, 0}});
  // {0}:       c0                                   = [ 1,  1,  1,  1]
  // {0, 1}:    sum [2, 0, 2, 0]: bits 1, 3 tie       = [ 1, -1,  1,  1]  (tie_break's -1, 1)
  // {0, 1, 2}: sum [3, 1, 1, -1]                     = [ 1,  1,  1, -1]
  // {1, 2}:    sum [2, 0, 0, -2]: bits 1, 2 tie      = [ 1, -1, -1, -1]
  // no label:  all tie                               = tie_break
  CHECK(csq_item_centres(labels, centres, tie_break)
            .equal(rows(
                {{1, 1, 1, 1}, {1, -1, 1, 1}, {1, 1, 1, -1}, {1, -1, -1, -1}, {1, -1, -1, 1}})));
}

TEST_CASE("CSQ loss: central BCE plus lambda times the quantisation term - value and gradient") {
  // u = [[0.5, -0.5], [0, 0.6]], centres [[1, -1], [-1, 1]], lambda 0.1.
  // p = (u + 1) / 2 = [[0.75, 0.25], [0.5, 0.8]], targets [[1, 0], [0, 1]]:
  //   BCE terms -ln 0.75, -ln 0.75, -ln 0.5, -ln 0.8 = 0.2876821, 0.2876821, 0.6931472, 0.2231436
  //   mean 0.3729137.
  // (|u| - 1)^2 = 0.25, 0.25, 1, 0.16: mean 0.415.  Loss 0.3729137 + 0.0415 = 0.4144137.
  torch::Tensor u = rows({{0.5, -0.5}, {0, 0.6}}).requires_grad_(true);
  const torch::Tensor c = rows({{1, -1}, {-1, 1}});
  torch::Tensor l = csq_loss(u, c, 0.1);
  CHECK(l.item<double>() == doctest::Approx(0.4144137).epsilon(1e-6));
  l.backward();
  // dBCE/du = (p - t) / (p (1 - p)) * 1/2, over 4 entries; dQ/du = 2 (|u| - 1) sign(u) / 4.
  //   u = 0.5 toward +1: (-0.25 / 0.1875) / 2 / 4 = -0.1666667, plus 0.1 * (-1 / 4): -0.1916667
  //   u = 0 toward -1:   (0.5 / 0.25) / 2 / 4 = 0.25, and sign(0) = 0 stops the quantisation term
  CHECK(u.grad()[0][0].item<double>() == doctest::Approx(-0.1916667).epsilon(1e-5));
  CHECK(u.grad()[1][0].item<double>() == doctest::Approx(0.25).epsilon(1e-5));
  // Outputs on their centres cost only the clamped BCE of exact 0/1: nothing.
  CHECK(csq_loss(c, c, 0.1).item<double>() == doctest::Approx(0).epsilon(1e-6));
}

TEST_CASE("CSQ learns separating codes and keeps its centres with the model") {
  const auto [d, ids, csq, e] = test::fit_separating("csq", 3);
  // tanh output: the real embedding stays inside (-1, 1).
  CHECK(e.real.cwiseAbs().maxCoeff() < 1.0f);

  const auto dir = test::fresh_temp_dir("csq-save");
  csq->save(dir);
  const torch::Tensor centres = test::saved_state(dir, "centres");
  const torch::Tensor tie_break = test::saved_state(dir, "tie_break");
  CHECK(centres.equal(sylvester_hadamard(16).slice(0, 0, 10)));
  CHECK(tie_break.abs().eq(1).all().item<bool>());
  test::check_loads_same_codes("csq", 16, dir, d, ids, e);
  std::filesystem::remove_all(dir);
  CHECK_THROWS_WITH_AS(HasherRegistry::instance().create("csq", {{"lambda", "-1"}}, 16),
                       "csq.lambda must be >= 0, got -1", Error);
}
