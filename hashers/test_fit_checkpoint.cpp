// A fit stopped part way resumes from its checkpoint to exactly the model an
// uninterrupted fit reaches, for every deep hasher; a checkpoint of another fit, or a
// damaged one, is an error naming the file.
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "framework/error.h"
#include "framework/hasher.h"
#include "hashers/torch_doctest.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

namespace {

// Everything that carries state from epoch to epoch is switched on: the weight average,
// model selection, augmentation, dropout, a cosine schedule.
std::map<std::string, std::string> busy_params(const std::string& epochs) {
  return {{"epochs", epochs},       {"batch_size", "16"},        {"weight_average", "0.9"},
          {"select_every", "2"},    {"augment", "flip+shift2"}, {"dropout", "0.2"},
          {"lr_schedule", "cosine"}};
}

struct Stopped : std::runtime_error {
  Stopped() : std::runtime_error("stopped") {}
};

}  // namespace

TEST_CASE("a fit stopped after an epoch resumes to the model of an uninterrupted fit") {
  const Dataset d = test::synthetic_images(40, 4, 3);
  std::vector<int64_t> train, validation;
  for (int64_t i = 0; i < d.size(); ++i) (i % 5 == 0 ? validation : train).push_back(i);
  const auto dir = test::fresh_temp_dir("resume");

  for (const std::string method :
       {"dsh", "dpsh", "dsdh", "csq", "greedyhash", "hashnet", "orthohash"}) {
    CAPTURE(method);
    FitContext ctx = test::quiet(7);
    ctx.validation = validation;

    auto whole = test::make_hasher(method, 16, busy_params("5"));
    whole->fit(d, train, ctx);

    // The first run dies while reporting epoch 3, after its checkpoint is written.
    ctx.checkpoint = dir / (method + ".checkpoint");
    FitContext dying = ctx;
    dying.log = [](const std::string& line) {
      if (line.find("epoch 3/5") != std::string::npos) throw Stopped();
    };
    CHECK_THROWS_AS(test::make_hasher(method, 16, busy_params("5"))->fit(d, train, dying), Stopped);
    REQUIRE(std::filesystem::exists(ctx.checkpoint));
    // What `hamster run --dry-run` shows of it; validation ran at epoch 2 (every 2nd).
    const std::string progress =
        test::make_hasher(method, 16, busy_params("5"))->checkpoint_progress(ctx.checkpoint);
    CHECK(progress.rfind("after epoch 3/5, ", 0) == 0);
    CHECK(progress.find(", best validation mAP ") != std::string::npos);
    CHECK(progress.find(" at epoch 2") != std::string::npos);

    std::vector<std::string> lines;
    ctx.log = [&](const std::string& line) { lines.push_back(line); };
    auto resumed = test::make_hasher(method, 16, busy_params("5"));
    resumed->fit(d, train, ctx);
    REQUIRE(!lines.empty());
    CHECK(lines.front().find("resuming after epoch 3/5") != std::string::npos);
    CHECK(lines.size() == 3);  // the resuming line, epochs 4 and 5

    const Encoded a = whole->encode(d, train, 1), b = resumed->encode(d, train, 1);
    CHECK(a.real == b.real);  // bit for bit
    CHECK(a.features == b.features);
    auto summary = resumed->fit_summary();
    CHECK(summary.at("chosen_epoch") == whole->fit_summary().at("chosen_epoch"));
    CHECK(summary.at("validation_map") == whole->fit_summary().at("validation_map"));
    CHECK(summary.at("resumed_after_epoch") == 3);
    CHECK(summary.at("seconds_before_resume") > 0);
  }
}

TEST_CASE("a checkpoint of another fit, or a damaged one, is an error naming the file") {
  const Dataset d = test::synthetic_images(20, 4, 1);
  const auto ids = test::iota_ids(d.size());
  const auto dir = test::fresh_temp_dir("checkpoint-errors");
  FitContext ctx = test::quiet(1);
  ctx.checkpoint = dir / "dpsh.checkpoint";
  test::make_hasher("dpsh", 16, {{"epochs", "2"}, {"batch_size", "8"}})->fit(d, ids, ctx);
  REQUIRE(std::filesystem::exists(ctx.checkpoint));
  // The fit left its last checkpoint (the caller removes it once the model is stored), and
  // no temporary file beside it.
  CHECK(std::distance(std::filesystem::directory_iterator(dir),
                      std::filesystem::directory_iterator()) == 1);

  const std::string file = ctx.checkpoint.string();
  auto brief = test::make_hasher("dpsh", 16, {{"epochs", "2"}, {"batch_size", "8"}});
  const std::string progress = brief->checkpoint_progress(ctx.checkpoint);
  CHECK(progress.rfind("after epoch 2/2, ", 0) == 0);
  CHECK(progress.find("best") == std::string::npos);  // no validation items, no selection
  CHECK(test::make_hasher("lsh", 16)->checkpoint_progress(ctx.checkpoint).empty());
  CHECK_THROWS_WITH_AS(
      test::make_hasher("dpsh", 32, {{"epochs", "2"}})->checkpoint_progress(ctx.checkpoint),
      (file + ": checkpoint of a fit of 2 epochs, 16 bits; this fit has 2, 32 "
              "(delete it to start the fit over)")
          .c_str(),
      Error);
  CHECK_THROWS_WITH_AS(
      test::make_hasher("dpsh", 16, {{"epochs", "3"}, {"batch_size", "8"}})->fit(d, ids, ctx),
      (file + ": checkpoint of a fit of 2 epochs, 80 items, 16 bits; this fit has 3, 80, 16 "
              "(delete it to start the fit over)")
          .c_str(),
      Error);

  // A checkpoint that cannot be written stops the fit with the file's name.
  const auto blocked = dir / "a-file";
  std::ofstream(blocked) << "not a folder\n";
  FitContext unwritable = ctx;
  unwritable.checkpoint = blocked / "dpsh.checkpoint";
  try {
    test::make_hasher("dpsh", 16, {{"epochs", "2"}, {"batch_size", "8"}})->fit(d, ids, unwritable);
    FAIL("a checkpoint under a file was written");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).rfind(unwritable.checkpoint.string() +
                                          ": cannot write the checkpoint (",
                                      0) == 0);
  }

  std::filesystem::resize_file(ctx.checkpoint, std::filesystem::file_size(ctx.checkpoint) / 2);
  try {
    test::make_hasher("dpsh", 16, {{"epochs", "2"}, {"batch_size", "8"}})->fit(d, ids, ctx);
    FAIL("a truncated checkpoint was accepted");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.rfind(file + ": cannot read the checkpoint (", 0) == 0);
    CHECK(what.find("delete it to start the fit over") != std::string::npos);
  }
  const std::string unreadable = file + ": cannot read the checkpoint (";
  CHECK_THROWS_WITH_AS(brief->checkpoint_progress(ctx.checkpoint),
                       doctest::Contains(unreadable.c_str()), Error);
}
