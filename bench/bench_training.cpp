// Training and encoding throughput of a deep hasher on Fashion-MNIST, side by side in one
// run: one training on 1 thread, one on 2 threads, two trainings at once on 1 thread each
// (how the runner uses a second core), and encoding on 1 and 2 threads.
//
//   build/bench/bench_training [--hasher dsh] [--bits 32] [--train 5000] [--epochs 2]
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "framework/data/loaders.h"
#include "framework/data/split.h"
#include "framework/hasher.h"

using namespace hamster;
using clock_type = std::chrono::steady_clock;

namespace {

struct Args {
  std::string hasher = "dsh";
  int bits = 32, train = 5000, epochs = 2, encode = 20000;
};

double fit_seconds(const Args& a, const Dataset& d, const std::vector<int64_t>& ids, int threads) {
  auto h =
      HasherRegistry::instance().create(a.hasher, {{"epochs", std::to_string(a.epochs)}}, a.bits);
  FitContext ctx;
  ctx.threads = threads;
  ctx.log = [](const std::string&) {};
  const auto t0 = clock_type::now();
  h->fit(d, ids, ctx);
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--hasher")
      a.hasher = v;
    else if (k == "--bits")
      a.bits = std::stoi(v);
    else if (k == "--train")
      a.train = std::stoi(v);
    else if (k == "--epochs")
      a.epochs = std::stoi(v);
    else if (k == "--encode")
      a.encode = std::stoi(v);
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  const Dataset d = load_fashion_mnist();
  const Split split = make_split("fmnist-1", d, 0);
  std::vector<int64_t> ids(split.train.begin(),
                           split.train.begin() + std::min<size_t>(a.train, split.train.size()));
  const double images = static_cast<double>(ids.size()) * a.epochs;

  fmt::print("{} {} bits, {} training images x {} epochs\n", a.hasher, a.bits, ids.size(),
             a.epochs);
  fmt::print("{:<44} {:>10}\n", "setting", "images/s");
  const double one = images / fit_seconds(a, d, ids, 1);
  fmt::print("{:<44} {:>10.0f}\n", "train, 1 fit x 1 thread", one);
  const double two = images / fit_seconds(a, d, ids, 2);
  fmt::print("{:<44} {:>10.0f}\n", "train, 1 fit x 2 threads", two);
  double s1 = 0, s2 = 0;
  std::thread t1([&] { s1 = fit_seconds(a, d, ids, 1); });
  std::thread t2([&] { s2 = fit_seconds(a, d, ids, 1); });
  t1.join(), t2.join();
  const double side_by_side = images / s1 + images / s2;
  fmt::print("{:<44} {:>10.0f}\n", "train, 2 fits side by side x 1 thread (sum)", side_by_side);

  auto h = HasherRegistry::instance().create(a.hasher, {{"epochs", "1"}}, a.bits);
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
