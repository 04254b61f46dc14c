// kNN graph build speed and quality: hamster::build_knn_graph with hnsw and exactly, on
// a .npy embedding or synthetic clustered data (clusters in a low-dimensional subspace,
// plus noise, through a ReLU: roughly how post-ReLU CNN features look).
//
//   bench_knn_graph [--npy FILE] [--n N] [--d D] [--k K] [--clusters C] [--subspace S]
//                   [--noise SIGMA] [--M M] [--efc EF] [--efs EF] [--threads T]
//                   [--no-exact | --sample S] [--check-threads]
//
// --sample S measures recall on S evenly spaced items only (their exact rows), instead of
// building the whole exact graph.
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "framework/data/split.h"
#include "framework/graph/knn_graph.h"
#include "framework/npy.h"

namespace {

struct Options {
  std::string npy;
  int64_t n = 69000;
  int d = 500;
  int clusters = 20;
  int subspace = 30;
  float noise = 0.3f;
  int threads = 0;  // 0: all
  bool exact = true;
  int64_t sample = 0;  // > 0: recall on this many items' exact rows, no full exact graph
  bool check_threads = false;
  hamster::KnnGraphOptions graph;
};

// Item i belongs to cluster i % clusters: its centre plus spread in a `subspace`-dimensional
// space, mapped to d dimensions by a fixed random matrix, plus noise, then max(0, .).
hamster::Embedding clustered(const Options& o) {
  hamster::Rng rng(1);
  using Matrix = hamster::Embedding;
  Matrix basis(o.subspace, o.d), centres(o.clusters, o.subspace), z(o.n, o.subspace);
  for (int64_t i = 0; i < basis.size(); ++i)
    basis.data()[i] = static_cast<float>(rng.normal() / std::sqrt(o.subspace));
  for (int64_t i = 0; i < centres.size(); ++i) centres.data()[i] = static_cast<float>(rng.normal());
  for (int64_t i = 0; i < o.n; ++i)
    for (int j = 0; j < o.subspace; ++j)
      z(i, j) = centres(i % o.clusters, j) + 0.6f * static_cast<float>(rng.normal());
  Matrix x = z * basis;
  for (int64_t i = 0; i < x.size(); ++i)
    x.data()[i] = std::max(0.0f, x.data()[i] + o.noise * static_cast<float>(rng.normal()));
  return x;
}

// Recall of `graph` on `count` evenly spaced items, against their exact rows.
double sampled_recall(const hamster::Embedding& x, const hamster::KnnGraph& graph, int64_t count) {
  count = std::min(count, graph.n);
  double sum = 0;
  for (int64_t s = 0; s < count; ++s) {
    const int64_t i = s * graph.n / count;
    const Eigen::VectorXf sims = x * x.row(i).transpose();
    std::vector<int32_t> order;
    for (int64_t j = 0; j < graph.n; ++j)
      if (j != i) order.push_back(static_cast<int32_t>(j));
    std::partial_sort(
        order.begin(), order.begin() + graph.k, order.end(),
        [&](int32_t a, int32_t b) { return sims[a] > sims[b] || (sims[a] == sims[b] && a < b); });
    std::vector<int32_t> exact(order.begin(), order.begin() + graph.k);
    std::vector<int32_t> found(graph.neighbours(i), graph.neighbours(i) + graph.k);
    std::sort(exact.begin(), exact.end());
    std::sort(found.begin(), found.end());
    std::vector<int32_t> both;
    std::set_intersection(exact.begin(), exact.end(), found.begin(), found.end(),
                          std::back_inserter(both));
    sum += static_cast<double>(both.size()) / graph.k;
  }
  return sum / count;
}

double seconds(const std::function<void()>& run) {
  const auto t0 = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool no_exact = false;
  CLI::App app{"kNN graph build speed and quality: hnsw against the exact graph"};
  app.option_defaults()->always_capture_default();
  app.add_option("--npy", o.npy, "embedding (.npy); synthetic clustered data when not given");
  app.add_option("--n", o.n, "synthetic: items")
      ->check(CLI::Range(int64_t{2}, std::numeric_limits<int64_t>::max(), "AT LEAST 2"));
  app.add_option("--d", o.d, "synthetic: dimensions")->check(CLI::PositiveNumber);
  app.add_option("--k", o.graph.k, "neighbours per node")->check(CLI::PositiveNumber);
  app.add_option("--clusters", o.clusters, "synthetic: clusters")->check(CLI::PositiveNumber);
  app.add_option("--subspace", o.subspace, "synthetic: dimensions of the clusters' subspace")
      ->check(CLI::PositiveNumber);
  app.add_option("--noise", o.noise, "synthetic: noise sigma")->check(CLI::NonNegativeNumber);
  app.add_option("--M", o.graph.M, "hnsw: links per node")->check(CLI::PositiveNumber);
  app.add_option("--efc", o.graph.ef_construction, "hnsw: build beam")->check(CLI::PositiveNumber);
  app.add_option("--efs", o.graph.ef_search, "hnsw: search beam; 0: max(k + 1, efc)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", o.threads, "threads; 0: all")->check(CLI::NonNegativeNumber);
  app.add_flag("--no-exact", no_exact, "skip the exact graph (and recall)");
  app.add_option("--sample", o.sample,
                 "recall on this many evenly spaced items' exact rows instead of the whole "
                 "exact graph; 0: off")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--check-threads", o.check_threads,
               "also build on 1 thread and check the graph is identical");
  CLI11_PARSE(app, argc, argv);
  o.exact = !no_exact && o.sample == 0;
  const int threads = o.threads ? o.threads : tbb::info::default_concurrency();
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  hamster::Embedding x;
  if (!o.npy.empty()) {
    x = hamster::load_embedding(o.npy);
    std::printf("data: %s, %lld x %lld\n", o.npy.c_str(), static_cast<long long>(x.rows()),
                static_cast<long long>(x.cols()));
  } else {
    x = clustered(o);
    std::printf("data: synthetic, %lld x %d, %d clusters in a %d-d subspace, noise %g, ReLU\n",
                static_cast<long long>(o.n), o.d, o.clusters, o.subspace, o.noise);
  }
  x = hamster::l2_normalised(x);
  const hamster::KnnGraphOptions& g = o.graph;
  std::printf("k = %d, threads = %d, hnsw M = %d, ef_construction = %d, ef_search = %d\n", g.k,
              threads, g.M, g.ef_construction, g.ef_search);
  std::fflush(stdout);

  hamster::KnnGraph hnsw;
  const double t_hnsw = seconds([&] { hnsw = hamster::build_knn_graph(x, g); });
  std::printf("hnsw:  %.2f s\n", t_hnsw);
  std::fflush(stdout);
  bool ok = true;
  if (o.check_threads) {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    hamster::KnnGraph serial;
    const double t = seconds([&] { serial = hamster::build_knn_graph(x, g); });
    const bool same = serial.ids == hnsw.ids && serial.sims == hnsw.sims;
    std::printf("hnsw at 1 thread: %.2f s, %s\n", t, same ? "identical" : "DIFFERENT");
    ok = ok && same;
  }
  if (o.exact) {
    hamster::KnnGraph exact;
    const double t_exact = seconds([&] { exact = hamster::exact_knn_graph(x, g.k); });
    std::printf("exact: %.2f s\n", t_exact);
    std::printf("recall@%d of hnsw: %.4f\n", g.k, hamster::knn_recall(hnsw, exact));
  } else if (o.sample > 0) {
    std::printf("recall@%d of hnsw on %lld sampled items: %.4f\n", g.k,
                static_cast<long long>(std::min(o.sample, hnsw.n)),
                sampled_recall(x, hnsw, o.sample));
  }
  return ok ? 0 : 1;
}
