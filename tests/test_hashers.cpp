#include <doctest/doctest.h>

#include <filesystem>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"
#include "framework/npy.h"
#include "tests/hasher_helpers.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

namespace {

using test::map_all;
using test::quiet;

const std::map<std::string, std::string> kBrief = {{"epochs", "4"}, {"batch_size", "50"}};

}  // namespace

TEST_CASE("DSH learns codes that do not collapse and separate the classes") {
  const Dataset d = test::synthetic_images(50, 10, 1);
  const auto ids = test::iota_ids(d.size());
  auto dsh = test::make_hasher("dsh", 16, kBrief);
  dsh->fit(d, ids, quiet(7));
  const Encoded e = dsh->encode(d, ids, 1);
  CHECK(e.codes.bits() == 16);
  CHECK(e.real.rows() == d.size());
  CHECK(e.features.cols() == 500);
  // Collapse is this task's failure mode: nearly all items sharing a handful of codes.
  CHECK(e.codes.distinct() >= 10);
  CHECK(map_all(e, d) > 0.6);  // chance is 0.1
  CHECK(dsh->train_images_per_second() > 0);
}

TEST_CASE("the shared backbone also takes 3x32x32 colour images (CIFAR-10)") {
  const Dataset d = test::synthetic_images(30, 10, 3, 32, 3);
  const auto ids = test::iota_ids(d.size());
  auto dsh = test::make_hasher("dsh", 32, kBrief);
  dsh->fit(d, ids, quiet(1));
  const Encoded e = dsh->encode(d, ids, 2);
  CHECK(e.codes.size() == d.size());
  CHECK(e.features.cols() == 500);
  CHECK(map_all(e, d) > 0.5);
}

TEST_CASE("DSH is seeded: same seed - same codes - saved and loaded - same codes") {
  const Dataset d = test::synthetic_images(20, 10, 2);
  const auto ids = test::iota_ids(d.size());
  auto a = test::make_hasher("dsh", 32, {{"epochs", "2"}, {"batch_size", "40"}});
  auto b = test::make_hasher("dsh", 32, {{"epochs", "2"}, {"batch_size", "40"}});
  a->fit(d, ids, quiet(3));
  b->fit(d, ids, quiet(3));
  const Encoded ea = a->encode(d, ids, 1);
  CHECK(ea.codes.data() == b->encode(d, ids, 2).codes.data());
  CHECK(ea.real.isApprox(b->encode(d, ids, 1).real, 1e-5f));

  auto dir = test::fresh_temp_dir("dsh-save");
  a->save(dir);
  auto loaded = test::make_hasher("dsh", 32);
  loaded->load(dir);
  CHECK(loaded->encode(d, ids, 1).codes.data() == ea.codes.data());
  auto wrong_bits = test::make_hasher("dsh", 16);
  CHECK_THROWS_WITH_AS(wrong_bits->load(dir), doctest::Contains("model has 32 bits, expected 16"),
                       Error);
  // A truncated model file: one line naming it, not a LibTorch stack trace.
  const auto size = std::filesystem::file_size(dir / "model.pt");
  std::filesystem::resize_file(dir / "model.pt", size / 2);
  const std::string message = test::error_message([&] { test::make_hasher("dsh", 32)->load(dir); });
  CHECK(message.find("model.pt: cannot load the model") != std::string::npos);
  CHECK(message.find("rerun with --force") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);

  auto c = test::make_hasher("dsh", 32, {{"epochs", "2"}, {"batch_size", "40"}});
  c->fit(d, ids, quiet(4));
  CHECK(c->encode(d, ids, 1).codes.data() != ea.codes.data());
  std::filesystem::remove_all(dir);
}

TEST_CASE("deep hashers reject bad settings and bad use with clear errors") {
  CHECK_THROWS_WITH_AS(
      test::make_hasher("dsh", 16, {{"backbone", "resnet"}}),
      "unknown backbone 'resnet' (known: small-cnn, small-cnn-wide, vgg-bn, vgg-bn-deep)", Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("dsh", 16, {{"optimiser", "lbfgs"}}),
                       "unknown optimiser 'lbfgs' (known: adam, sgd)", Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("dsh", 16, {{"epochs", "abc"}}),
                       doctest::Contains("epochs"), Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("dsh", 16, {{"device", "tpu"}}),
                       "unknown device 'tpu' (known: cpu, cuda)", Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("dsh", 16, {{"epochs", "0"}}),
                       "epochs must be >= 1, got 0", Error);
  CHECK_THROWS_WITH_AS(test::make_hasher("dsh", 16, {{"lr_schedule", "step"}}),
                       "unknown lr_schedule 'step' (known: constant, cosine)", Error);
  CHECK_THROWS_WITH_AS(
      test::make_hasher("dsh", 16)->encode(test::synthetic_images(1, 2, 1), {0}, 1),
      "dsh: encode() before fit() or load()", Error);
  auto dsh = test::make_hasher("dsh", 16, {{"epochs", "1"}});
  const Dataset d = test::synthetic_images(4, 2, 1);
  dsh->fit(d, test::iota_ids(d.size()), quiet(0));
  const Dataset other = test::synthetic_images(1, 2, 1, 32);
  CHECK_THROWS_WITH_AS(dsh->encode(other, {0}, 1), doctest::Contains("trained on 1x28x28 images"),
                       Error);
}

TEST_CASE("deep hashers train on label sets wider than 64 classes") {
  // 80 classes (MS-COCO's count); items 0 and 1 share only class 70.
  Dataset wide = test::synthetic_images(3, 2, 1, 8);
  for (int c = 2; c < 80; ++c) wide.class_names.push_back("c" + std::to_string(c));
  wide.labels[0].set(70);
  wide.labels[1].set(70);
  auto dsh = test::make_hasher("dsh", 16, {{"epochs", "2"}, {"batch_size", "6"}});
  dsh->fit(wide, test::iota_ids(wide.size()), quiet(0));
  const Encoded e = dsh->encode(wide, test::iota_ids(wide.size()), 1);
  CHECK(e.codes.size() == 6);
  CHECK(e.real.allFinite());
}

TEST_CASE("LSH: seeded random projections - far from trained quality") {
  const Dataset d = test::synthetic_images(30, 10, 5);
  const auto ids = test::iota_ids(d.size());
  auto a = test::make_hasher("lsh", 64), b = test::make_hasher("lsh", 64);
  a->fit(d, ids, quiet(11));
  b->fit(d, ids, quiet(11));
  const Encoded ea = a->encode(d, ids, 1);
  CHECK(ea.codes.data() == b->encode(d, ids, 1).codes.data());
  CHECK(ea.features.cols() == 28 * 28);
  CHECK(ea.codes.distinct() == d.size());  // noise makes every image its own code
  auto dir = test::fresh_temp_dir("lsh-save");
  a->save(dir);
  auto loaded = test::make_hasher("lsh", 64);
  loaded->load(dir);
  CHECK(loaded->encode(d, ids, 1).codes.data() == ea.codes.data());
  CHECK_THROWS_WITH_AS(test::make_hasher("lsh", 32)->load(dir),
                       doctest::Contains("has 64 bits, expected 32"), Error);
  // A corrupt mean (too short, or empty) is refused with its path, never indexed past.
  for (int64_t width : {10, 0}) {
    save_embedding(dir / "mean.npy", Embedding::Zero(1, width));
    const std::string message =
        test::error_message([&] { test::make_hasher("lsh", 64)->load(dir); });
    CHECK(message.find("mean.npy: shape 1x" + std::to_string(width) + ", expected 1x784") !=
          std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("deep hashers keep the best validation epoch and never look at the queries") {
  // 40 items per class: 20 train, 10 validation, 10 stand-in queries the fit never sees.
  Dataset d = test::synthetic_images(40, 4, 3);
  std::vector<int64_t> train, validation, queries;
  for (int64_t i = 0; i < d.size(); ++i) {
    const int64_t r = i % 4;
    (r < 2 ? train : r == 2 ? validation : queries).push_back(i);
  }
  FitContext ctx = quiet(5);
  ctx.validation = validation;
  const std::map<std::string, std::string> params = {
      {"epochs", "6"}, {"batch_size", "20"}, {"select_every", "2"}, {"lr", "0.01"}};
  auto a = test::make_hasher("dsh", 16, params);
  a->fit(d, train, ctx);
  const auto summary = a->fit_summary();
  REQUIRE(summary.count("chosen_epoch"));
  REQUIRE(summary.count("validation_map"));
  const int chosen = static_cast<int>(summary.at("chosen_epoch"));
  CHECK((chosen == 2 || chosen == 4 || chosen == 6));
  CHECK(summary.at("epochs") == 6);
  // The kept weights are the chosen epoch's: they reproduce its validation mAP.
  auto labels_of = [&](const std::vector<int64_t>& ids) {
    std::vector<LabelSet> out;
    for (int64_t i : ids) out.push_back(d.labels[i]);
    return out;
  };
  const double again =
      evaluate(labels_of(validation), labels_of(train), a->encode(d, validation, 1).codes,
               a->encode(d, train, 1).codes, {}, EvalOptions{{kAll}, {}, {}, 2})
          .get("mAP@all");
  CHECK(again == doctest::Approx(summary.at("validation_map")).epsilon(1e-9));

  // Shuffling the query items' labels changes nothing the fit decides.
  Dataset shuffled = d;
  for (size_t i = 0; i < queries.size(); ++i)
    shuffled.labels[queries[i]] = d.labels[queries[(i + 7) % queries.size()]];
  auto b = test::make_hasher("dsh", 16, params);
  b->fit(shuffled, train, ctx);
  CHECK(b->fit_summary().at("chosen_epoch") == summary.at("chosen_epoch"));
  CHECK(b->fit_summary().at("validation_map") == summary.at("validation_map"));

  // Switched off: the last epoch, and no validation figure.
  auto params_off = params;
  params_off["select_every"] = "0";
  auto c = test::make_hasher("dsh", 16, params_off);
  c->fit(d, train, ctx);
  CHECK(c->fit_summary().at("chosen_epoch") == 6);
  CHECK(c->fit_summary().count("validation_map") == 0);
}

TEST_CASE("vgg-bn is seeded, learns, and keeps its BatchNorm statistics with the model") {
  const Dataset d = test::synthetic_images(30, 10, 1);
  const auto ids = test::iota_ids(d.size());
  const std::map<std::string, std::string> p = {
      {"epochs", "3"}, {"batch_size", "50"}, {"backbone", "vgg-bn"}};
  auto a = test::fitted("dsh", 32, p, d, ids, 5);
  const Encoded ea = a->encode(d, ids, 1);
  // Seeded: a second fit gives the same codes (encoded on 2 threads).
  CHECK(ea.codes.data() == test::fitted("dsh", 32, p, d, ids, 5)->encode(d, ids, 2).codes.data());
  CHECK(map_all(ea, d) > 0.5);  // chance is 0.1

  // Encoding runs in evaluation mode on the running mean and variance of every BatchNorm
  // layer: a loaded model must bring them, or its codes differ.
  auto dir = test::fresh_temp_dir("vgg-save");
  a->save(dir);
  auto loaded = test::make_hasher("dsh", 32, {{"backbone", "vgg-bn"}});
  loaded->load(dir);
  const Encoded el = loaded->encode(d, ids, 1);
  CHECK(el.codes.data() == ea.codes.data());
  CHECK(el.real.isApprox(ea.real, 1e-5f));
  // The model of another backbone does not load into this one.
  CHECK_THROWS_WITH_AS(test::make_hasher("dsh", 32)->load(dir),
                       doctest::Contains("cannot load the model"), Error);
}

TEST_CASE("the backbone parameter selects the network and its feature width") {
  const Dataset d = test::synthetic_images(10, 2, 1);
  const auto ids = test::iota_ids(d.size());
  auto narrow = test::make_hasher("dsh", 16, {{"epochs", "1"}, {"batch_size", "10"}});
  auto wide = test::make_hasher(
      "dsh", 16, {{"epochs", "1"}, {"batch_size", "10"}, {"backbone", "small-cnn-wide"}});
  narrow->fit(d, ids, quiet(0));
  wide->fit(d, ids, quiet(0));
  CHECK(narrow->encode(d, ids, 1).features.cols() == 500);
  CHECK(wide->encode(d, ids, 1).features.cols() == 1000);
  auto vgg =
      test::make_hasher("dsh", 16, {{"epochs", "1"}, {"batch_size", "10"}, {"backbone", "vgg-bn"}});
  vgg->fit(d, ids, quiet(0));
  CHECK(vgg->encode(d, ids, 1).features.cols() == 256);
  // sgd trains too (a different optimiser, different codes from the same seed).
  auto sgd =
      test::make_hasher("dsh", 16, {{"epochs", "1"}, {"batch_size", "10"}, {"optimiser", "sgd"}});
  sgd->fit(d, ids, quiet(0));
  CHECK(sgd->encode(d, ids, 1).real != narrow->encode(d, ids, 1).real);
}
