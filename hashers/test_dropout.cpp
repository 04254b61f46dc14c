// Dropout before the hash layer: seeded by the backbone (not the global torch generator),
// active in training only, and part of the budget a config sets.
#include "framework/error.h"
#include "framework/hasher.h"
#include "hashers/backbone.h"
#include "hashers/torch_doctest.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

namespace {

// The hash layer's output for `images` in training mode, from a vgg-bn seeded with `seed`.
torch::Tensor training_hash(uint64_t seed, double dropout, const torch::Tensor& images,
                            int passes = 1) {
  auto net = make_backbone("vgg-bn", 1, 28, 28, 16);
  net->set_dropout(dropout);
  net->initialise(seed);
  net->train();
  torch::NoGradGuard no_grad;
  torch::Tensor out;
  for (int i = 0; i < passes; ++i) out = net->forward(images).hash;
  return out;
}

}  // namespace

TEST_CASE("dropout masks are drawn from the backbone's seed and only while training") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const torch::Tensor images = torch::randn({20, 1, 28, 28}, gen);
  const torch::Tensor kept = training_hash(1, 0, images);
  const torch::Tensor dropped = training_hash(1, 0.5, images);
  CHECK((kept - dropped).abs().max().item<float>() > 1e-2f);
  // Same seed, same masks: the global torch generator moving in between changes nothing.
  torch::manual_seed(123);
  const torch::Tensor again = training_hash(1, 0.5, images);
  torch::rand({1000});
  CHECK(torch::equal(dropped, training_hash(1, 0.5, images)));
  CHECK(torch::equal(dropped, again));
  // A second pass draws a new mask.
  CHECK((training_hash(1, 0.5, images, 2) - dropped).abs().max().item<float>() > 1e-2f);

  // Evaluation mode ignores dropout.
  auto with = make_backbone("vgg-bn", 1, 28, 28, 16);
  auto without = make_backbone("vgg-bn", 1, 28, 28, 16);
  with->set_dropout(0.5);
  with->initialise(1), without->initialise(1);
  with->eval(), without->eval();
  torch::NoGradGuard no_grad;
  CHECK(torch::equal(with->forward(images).hash, without->forward(images).hash));
}

TEST_CASE("dropout is a training parameter with a checked range") {
  CHECK_THROWS_WITH_AS(make_backbone("small-cnn", 1, 28, 28, 16)->set_dropout(1),
                       "dropout must be in [0, 1), got 1", Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("dpsh", 16, {{"dropout", "-0.1"}}),
                       "dropout must be in [0, 1), got -0.1", Error);
  // Same seed, same codes with dropout on; a different training from no dropout.
  const Dataset d = test::synthetic_images(20, 4, 1);
  const auto ids = test::iota_ids(d.size());
  const std::map<std::string, std::string> p = {
      {"epochs", "2"}, {"batch_size", "16"}, {"dropout", "0.5"}};
  auto a = test::fitted("dpsh", 16, p, d, ids, 3);
  auto b = test::fitted("dpsh", 16, p, d, ids, 3);
  auto c = test::fitted("dpsh", 16, {{"epochs", "2"}, {"batch_size", "16"}}, d, ids, 3);
  const Encoded ea = a->encode(d, ids, 1);
  CHECK(ea.real == b->encode(d, ids, 1).real);
  CHECK(!ea.real.isApprox(c->encode(d, ids, 1).real, 1e-3f));
}
