// Training and encoding throughput of a deep hasher on Fashion-MNIST, side by side in one
// run: one training on 1 thread, one on 2 threads, two trainings at once on 1 thread each
// (how the runner uses a second core), and encoding on 1 and 2 threads. With --map, the
// 1-thread fit's mAP@all on the dataset's split (so speed is compared at equal accuracy); with
// --write-split FILE, the split, for bench/train_pytorch.py (bench/compare_training.sh
// runs both sides). --dataset fmnist-mosaic runs the same on the 56x56 mosaics (4x the
// pixels of each image), split by their own protocol.
//
//   build/bench/bench_training [--hasher dsh] [--bits 32] [--train 5000] [--epochs 2]
//                              [--encode 20000] [--dataset fmnist|fmnist-mosaic]
//                              [--backbone small-cnn|small-cnn-wide|vgg-bn]
//                              [--map] [--train-only] [--write-split FILE]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "framework/data/loaders.h"
#include "framework/data/mosaic.h"
#include "framework/data/split.h"
#include "framework/eval/metrics.h"
#include "framework/hasher.h"

using namespace hamster;
using clock_type = std::chrono::steady_clock;

namespace {

struct Args {
  std::string hasher = "dsh";
  int bits = 32, train = 5000, epochs = 2, encode = 20000;
  bool map = false, train_only = false;
  std::string write_split;
  std::string dataset = "fmnist";
  std::string backbone = "small-cnn";
};

double fit_seconds(const Args& a, const Dataset& d, const std::vector<int64_t>& ids, int threads,
                   std::unique_ptr<Hasher>* keep = nullptr) {
  auto h = HasherRegistry::instance().create(
      a.hasher, {{"epochs", std::to_string(a.epochs)}, {"backbone", a.backbone}}, a.bits);
  FitContext ctx;
  ctx.threads = threads;
  ctx.log = [](const std::string&) {};
  const auto t0 = clock_type::now();
  h->fit(d, ids, ctx);
  const double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (keep) *keep = std::move(h);
  return seconds;
}

// mAP@all of the queries against the database, Hamming ranking (docs/protocol.md's tie rule).
double map_all(const Hasher& h, const Dataset& d, const Split& split) {
  auto labels_of = [&](const std::vector<int64_t>& ids) {
    std::vector<LabelSet> out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) out[i] = d.labels[ids[i]];
    return out;
  };
  const Encoded q = h.encode(d, split.query, 2), db = h.encode(d, split.database, 2);
  EvalOptions opts;
  opts.map_at = {kAll};
  opts.precision_at = {};
  opts.recall_at = {};
  return evaluate(labels_of(split.query), labels_of(split.database), q.codes, db.codes, {}, opts)
      .get("mAP@all");
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"Training and encoding throughput of a deep hasher, side by side in one run"};
  app.add_option("--hasher", a.hasher, "deep hasher to train");
  app.add_option("--bits", a.bits, "code length")->check(CLI::PositiveNumber);
  app.add_option("--train", a.train, "training images")->check(CLI::PositiveNumber);
  app.add_option("--epochs", a.epochs, "epochs per fit")->check(CLI::PositiveNumber);
  app.add_option("--encode", a.encode, "database images to encode")->check(CLI::PositiveNumber);
  app.add_option("--dataset", a.dataset, "fmnist or fmnist-mosaic")
      ->check(CLI::IsMember({"fmnist", "fmnist-mosaic"}));
  app.add_option("--backbone", a.backbone, "small-cnn, small-cnn-wide or vgg-bn");
  app.add_flag("--map", a.map, "also print the 1-thread fit's mAP@all");
  app.add_flag("--train-only", a.train_only,
               "only the 1- and 2-thread fits (bench/compare_training.sh repeats them)");
  app.add_option("--write-split", a.write_split, "write the split for bench/train_pytorch.py");
  CLI11_PARSE(app, argc, argv);
  const bool mosaic = a.dataset == "fmnist-mosaic";
  const Dataset d = mosaic ? load_fmnist_mosaic() : load_fashion_mnist();
  const Split split = make_split(mosaic ? "fmnist-mosaic" : "fmnist-1", d, 0);
  if (!a.write_split.empty()) save_split(split, a.write_split);
  std::vector<int64_t> ids(split.train.begin(),
                           split.train.begin() + std::min<size_t>(a.train, split.train.size()));
  const double images = static_cast<double>(ids.size()) * a.epochs;

  fmt::print("{} {} bits, {}, {} training images x {} epochs\n", a.hasher, a.bits, a.backbone,
             ids.size(), a.epochs);
  fmt::print("{:<44} {:>10}\n", "setting", "images/s");
  std::unique_ptr<Hasher> fitted;
  const double one = images / fit_seconds(a, d, ids, 1, &fitted);
  fmt::print("{:<44} {:>10.0f}\n", "train, 1 fit x 1 thread", one);
  if (a.map) fmt::print("{:<44} {:>10.4f}\n", "mAP@all of that fit", map_all(*fitted, d, split));
  const double two = images / fit_seconds(a, d, ids, 2);
  fmt::print("{:<44} {:>10.0f}\n", "train, 1 fit x 2 threads", two);
  if (a.train_only) return 0;
  double s1 = 0, s2 = 0;
  std::thread t1([&] { s1 = fit_seconds(a, d, ids, 1); });
  std::thread t2([&] { s2 = fit_seconds(a, d, ids, 1); });
  t1.join(), t2.join();
  const double side_by_side = images / s1 + images / s2;
  fmt::print("{:<44} {:>10.0f}\n", "train, 2 fits side by side x 1 thread (sum)", side_by_side);

  auto h = HasherRegistry::instance().create(a.hasher, {{"epochs", "1"}, {"backbone", a.backbone}},
                                             a.bits);
  FitContext ctx;
  ctx.log = [](const std::string&) {};
  h->fit(d, std::vector<int64_t>(ids.begin(), ids.begin() + 200), ctx);
  std::vector<int64_t> enc(
      split.database.begin(),
      split.database.begin() + std::min<size_t>(a.encode, split.database.size()));
  for (int threads : {1, 2}) {
    const auto t0 = clock_type::now();
    h->encode(d, enc, threads);
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    fmt::print("{:<44} {:>10.0f}\n",
               fmt::format("encode, {} thread{}", threads, threads > 1 ? "s" : ""), enc.size() / s);
  }
  fmt::print("speed-ups: 2 threads {:.2f}x, 2 fits side by side {:.2f}x (over 1 fit x 1 thread)\n",
             two / one, side_by_side / one);
  return 0;
}
