// Top eigenpairs of a database graph's S = D^-1/2 A D^-1/2 (what spectral ranking needs),
// by Chebyshev-filtered subspace iteration (framework/graph/subspace.h) and by Spectra's
// Lanczos (framework/graph/solvers.h), side by side: seconds, passes, the largest residual
// ||S u - l u||, and the largest eigenvalue difference between the two.
//
//   bench_eigenpairs --npy FEATURES.npy [--k 50] [--graph hnsw|exact] [--gamma 3] [--mutual]
//                    [--ranks 100,1000] [--solvers subspace,lanczos] [--degree 10]
//                    [--tol 1e-4] [--guard G] [--lower-bound -1] [--threads T]
//
// FEATURES.npy: e.g. db_features.npy of `hamster export` (the 69,000-item fmnist-1
// database).
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "framework/graph/affinity.h"
#include "framework/graph/knn_graph.h"
#include "framework/graph/solvers.h"
#include "framework/graph/subspace.h"
#include "framework/npy.h"

namespace {

struct Options {
  std::string npy;
  hamster::KnnGraphOptions graph;
  hamster::AffinityOptions affinity;
  std::vector<int> ranks = {100, 1000};
  std::vector<std::string> solvers = {"subspace", "lanczos"};
  hamster::SubspaceOptions subspace;
  int threads = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

float residual_max(const hamster::SparseMatrix& s, const hamster::Eigenpairs& e) {
  const Eigen::MatrixXf r = s * e.vectors - e.vectors * e.values.asDiagonal();
  return r.colwise().norm().maxCoeff();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.affinity.gamma = 3;
  CLI::App app{
      "Top eigenpairs of a database graph's S = D^-1/2 A D^-1/2, subspace iteration and "
      "Lanczos side by side"};
  app.option_defaults()->always_capture_default();
  app.add_option("--npy", o.npy, "features (.npy), e.g. db_features.npy of `hamster export`")
      ->required();
  app.add_option("--k", o.graph.k, "neighbours per node of the kNN graph")
      ->check(CLI::PositiveNumber);
  app.add_option("--graph", o.graph.method, "how the kNN graph is built")
      ->check(CLI::IsMember({"hnsw", "exact"}));
  app.add_option("--gamma", o.affinity.gamma, "similarity exponent of the affinities")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--mutual", o.affinity.mutual, "keep only mutual kNN edges");
  app.add_option("--ranks", o.ranks, "eigenpairs to compute, comma-separated; one row each")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--solvers", o.solvers, "solvers to run at each rank, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"subspace", "lanczos"}));
  app.add_option("--degree", o.subspace.degree, "subspace: Chebyshev degree per pass")
      ->check(CLI::PositiveNumber);
  app.add_option("--tol", o.subspace.tol, "subspace: residual every kept pair must reach")
      ->check(CLI::PositiveNumber);
  app.add_option("--guard", o.subspace.guard,
                 "subspace: block vectors beyond the rank; 0: max(300, rank / 4)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--lower-bound", o.subspace.lower_bound,
                 "subspace: a lower bound of S's spectrum (-1 holds); nan: Gershgorin's");
  app.add_option("--threads", o.threads, "threads; 0: all")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  const int threads = o.threads > 0 ? o.threads : tbb::info::default_concurrency();
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const hamster::Embedding x = hamster::l2_normalised(hamster::load_embedding(o.npy));
  auto start = std::chrono::steady_clock::now();
  const hamster::KnnGraph graph = hamster::build_knn_graph(x, o.graph);
  hamster::SparseMatrix a = hamster::affinity_matrix(graph, o.affinity);
  a.makeCompressed();
  const hamster::SparseMatrix s = hamster::normalised_affinity(a);
  std::printf(
      "%s: n %lld, %s kNN graph k %d, gamma %g, mutual %d: %lld stored entries, %.1f s; "
      "%d threads\n",
      o.npy.c_str(), static_cast<long long>(s.rows()), o.graph.method.c_str(), o.graph.k,
      o.affinity.gamma, o.affinity.mutual, static_cast<long long>(s.nonZeros()),
      seconds_since(start), threads);
  std::printf(
      "| rank | solver | seconds | passes | block | residual max | MB blocks | "
      "max |l - l_lanczos| |\n|---:|---|---:|---:|---:|---:|---:|---:|\n");
  hamster::SubspaceOptions subspace = o.subspace;
  const auto begun = std::chrono::steady_clock::now();
  auto pass_start = begun;
  subspace.on_pass = [&](int pass, float residual, int converged) {
    std::fprintf(stderr, "  pass %d: %.1f s, residual max %.2e, %d leading pairs within tol\n",
                 pass, seconds_since(pass_start), residual, converged);
    pass_start = std::chrono::steady_clock::now();
  };
  for (const int rank : o.ranks) {
    std::vector<std::pair<std::string, hamster::Eigenpairs>> results;
    for (const std::string& solver : o.solvers) {
      hamster::SubspaceReport report;
      start = pass_start = std::chrono::steady_clock::now();
      hamster::Eigenpairs e = solver == "lanczos"
                                  ? hamster::top_eigenpairs(s, rank)
                                  : hamster::subspace_eigenpairs(s, rank, subspace, &report);
      const double took = seconds_since(start);
      double gap = -1;
      for (const auto& [name, other] : results)
        if (name == "lanczos") gap = (e.values - other.values).cwiseAbs().maxCoeff();
      std::printf("| %d | %s | %.1f | %d | %d | %.2e | %.0f | %s |\n", rank, solver.c_str(), took,
                  report.passes, report.block, residual_max(s, e), report.megabytes_peak,
                  gap < 0 ? "" : std::to_string(gap).c_str());
      std::fflush(stdout);
      results.emplace_back(solver, std::move(e));
    }
  }
}
