// The moving average of the weights: its arithmetic worked by hand, the swap in and out
// of the network, and its place in a fit (the model kept is the average).
#include "framework/error.h"
#include "framework/hasher.h"
#include "hashers/torch_doctest.h"
#include "hashers/weight_average.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

TEST_CASE("the weight average follows d avg + (1 - d) live with a warm-up of d") {
  torch::nn::Linear net(torch::nn::LinearOptions(1, 1).bias(false));
  torch::nn::BatchNorm1d norm(1);
  torch::NoGradGuard no_grad;
  net->weight.fill_(0);
  WeightAverage average(*net, 0.5);
  auto averaged_weight = [&] {
    average.swap();
    const float w = net->weight.item<float>();
    average.swap();
    return w;
  };
  // t = 0: d = min(0.5, 1/10) = 0.1, so 0.1 * 0 + 0.9 * 10 = 9.
  net->weight.fill_(10);
  average.update();
  CHECK(averaged_weight() == doctest::Approx(9));
  CHECK(net->weight.item<float>() == 10);  // swapped back
  // t = 1: d = min(0.5, 2/11), so 2/11 * 9 + 9/11 * 20 = 18.
  net->weight.fill_(20);
  average.update();
  CHECK(averaged_weight() == doctest::Approx(18));
  CHECK(average.updates() == 2);

  // From t = 8 on, (1 + t) / (10 + t) >= 0.5, so d is the decay itself.
  WeightAverage from_20(*net, 0.5);
  for (int t = 0; t < 8; ++t) from_20.update();  // live 20 all along: average 20
  net->weight.fill_(30);
  from_20.update();
  from_20.swap();
  CHECK(net->weight.item<float>() == doctest::Approx(25));  // 0.5 * 20 + 0.5 * 30
  from_20.swap();
  CHECK(net->weight.item<float>() == doctest::Approx(30));  // the live weights are back

  // BatchNorm's running statistics are averaged, its batch counter is left alone.
  norm->running_mean.fill_(0);
  WeightAverage bn(*norm, 0.5);
  norm->running_mean.fill_(10);
  norm->num_batches_tracked.fill_(7);
  bn.update();
  bn.swap();
  CHECK(norm->running_mean.item<float>() == doctest::Approx(9));
  CHECK(norm->num_batches_tracked.item<int64_t>() == 7);
}

TEST_CASE("weight_average is a training parameter with a checked range") {
  CHECK_THROWS_WITH_AS(test::make_hasher("dpsh", 16, {{"weight_average", "1"}}),
                       "weight_average must be in [0, 1), got 1", Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("greedyhash", 16, {{"weight_average", "-0.5"}}),
                       "weight_average must be in [0, 1), got -0.5", Error);
}

TEST_CASE("a fit with weight_average keeps the averaged weights") {
  const Dataset d = test::synthetic_images(20, 4, 1);
  const auto ids = test::iota_ids(d.size());
  auto fit = [&](const std::string& decay) {
    auto h = test::make_hasher("dpsh", 16, {{"epochs", "3"}, {"batch_size", "16"},
                                            {"weight_average", decay}});
    h->fit(d, ids, test::quiet(3));
    return h->encode(d, ids, 1).real;
  };
  const auto off = fit("0");
  // A decay near 0 averages over one step: the last weights, up to rounding.
  CHECK(fit("0.000001").isApprox(off, 1e-4f));
  // A long average is another model, and the same one on every run.
  const auto averaged = fit("0.9");
  CHECK(!averaged.isApprox(off, 1e-2f));
  CHECK(averaged == fit("0.9"));
}
