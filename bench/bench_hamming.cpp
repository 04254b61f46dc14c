// Stage-1 speed. Three tables, each timed on one thread (CPU time of the thread unless
// --wall is given), each checking that every method returns the same results:
//
// 1. (default) hamster::hamming_knn on random codes with every Hamming kernel this CPU
//    runs, side by side, on one thread (and the default kernel on all threads), and (when
//    built with HAMSTER_HAVE_FAISS) faiss::IndexBinaryFlat on the same data. Every kernel
//    must return the scalar kernel's ids and distances; faiss the same distances at every
//    rank (it may order ties differently).
//
//      bench_hamming [--n N] [--queries Q] [--repeat R] [--bits 64,32] [--k 100,1000]
//                    [--wall] [--no-faiss]
//
// 2. --codes DIR[,DIR...] (folders of `hamster export`: db_codes.npy, query_codes.npy), or
//    --clustered (a synthetic stand-in: few centres, bits flipped, over --bits and --n):
//    the plain scan, the distinct-code path (with and without collecting the distinct
//    codes), multi-index hashing and faiss side by side, all checked against the scan.
//
//      bench_hamming --codes DIR[,DIR] [--k 1,10,100,1000] [--repeat R]
//      bench_hamming --clustered [--bits 16,32,64] [--n N] [--queries Q] [--k ...]
//
// 3. --mih: multi-index hashing against the scan on random codes, --bits x --n-list x --k.
//
//      bench_hamming --mih [--bits 16,32,64] [--n-list 100000,1000000] [--k 1,10,100]
#include "bench/bench_hamming.h"

#include <tbb/global_control.h>
#include <tbb/info.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/codes/hamming_search.h"

namespace {

using namespace bench;

struct Options {
  int64_t n = 1000000;
  int64_t queries = 1000;
  int repeat = 3;
  std::vector<int64_t> bits = {64, 32};
  std::vector<int64_t> k = {100, 1000};
  bool k_given = false, bits_given = false;  // tables 2 and 3 have their own defaults
  // Tables 2 and 3 (bench_hamming.h).
  std::vector<std::string> code_dirs;
  bool clustered = false;
  bool mih = false;
  std::vector<int64_t> n_list = {100000, 1000000};
};

double time_hamster(const hamster::BinaryCodes& q, const hamster::BinaryCodes& db, int64_t k,
                    const hamster::HammingKernel& kernel, int threads, int repeat, KnnOutput& out) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  out.resize(q.size() * k);
  // The scan itself: this table measures the kernels, not the choice of path.
  return best_seconds(repeat, threads, [&] {
    hamster::hamming_knn(q, db, k, out.ids.data(), out.distances.data(), kernel,
                         hamster::KnnPath::scan);
  });
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool no_faiss = false;
  CLI::App app{
      "Stage-1 speed: Hamming kNN kernels (default), search paths (--codes, "
      "--clustered) or multi-index hashing (--mih), each against faiss and the scan"};
  app.option_defaults()->always_capture_default();
  app.add_option("--n", opt.n, "database codes (random or --clustered)")
      ->check(CLI::PositiveNumber);
  app.add_option("--queries", opt.queries, "queries")->check(CLI::PositiveNumber);
  app.add_option("--repeat", opt.repeat, "timings per cell; the best is kept")
      ->check(CLI::PositiveNumber);
  const CLI::Option* bits =
      app.add_option("--bits", opt.bits,
                     "code lengths, comma-separated (--clustered and --mih: 16,32,64)")
          ->delimiter(',')
          ->check(CLI::PositiveNumber);
  const CLI::Option* k = app.add_option("--k", opt.k,
                                        "k, comma-separated (--codes and --clustered: "
                                        "1,10,100,1000; --mih: 1,10,100)")
                             ->delimiter(',')
                             ->check(CLI::PositiveNumber);
  app.add_option("--codes", opt.code_dirs,
                 "folders of `hamster export` (db_codes.npy, query_codes.npy), comma-separated: "
                 "the search paths on their codes")
      ->delimiter(',')
      ->default_str("");
  app.add_flag("--clustered", opt.clustered, "the search paths on synthetic clustered codes");
  app.add_flag("--mih", opt.mih, "multi-index hashing against the scan on random codes");
  app.add_option("--n-list", opt.n_list, "--mih: database sizes, comma-separated")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_flag("--wall", g_wall_clock, "time by wall clock, not the thread's CPU time");
  app.add_flag("--no-faiss", no_faiss, "leave faiss out");
  CLI11_PARSE(app, argc, argv);
  // CLI11 checks each entry; every table also needs at least one.
  if (opt.bits.empty() || opt.k.empty() || opt.n_list.empty()) {
    std::fprintf(stderr, "--bits, --k and --n-list must not be empty\n");
    return 2;
  }
  opt.bits_given = bits->count() > 0;
  opt.k_given = k->count() > 0;
  g_faiss = !no_faiss;
  if (!opt.code_dirs.empty() || opt.clustered || opt.mih) {
    PathOptions p;
    p.code_dirs = opt.code_dirs;
    p.clustered = opt.clustered;
    p.bits = opt.bits_given ? opt.bits : std::vector<int64_t>{16, 32, 64};
    p.k = opt.k_given ? opt.k : std::vector<int64_t>{1, 10, 100, 1000};
    p.n = opt.mih ? opt.n_list : std::vector<int64_t>{opt.n};
    p.queries = opt.queries;
    p.repeat = opt.repeat;
    std::printf("%s; default kernel: %s\n", cpu_name().c_str(),
                hamster::default_hamming_kernel().name);
    bool ok = true;
    if (!opt.code_dirs.empty() || opt.clustered) ok = paths_table(p) && ok;
    if (opt.mih) {
      if (!opt.k_given) p.k = {1, 10, 100};
      ok = mih_table(p) && ok;
    }
    return ok ? 0 : 1;
  }
  const int all = tbb::info::default_concurrency();
  const std::vector<const hamster::HammingKernel*>& kernels = hamster::supported_hamming_kernels();
  const hamster::HammingKernel& chosen = hamster::default_hamming_kernel();
  std::printf("%s; kernels this CPU runs:", cpu_name().c_str());
  for (const hamster::HammingKernel* kernel : kernels) std::printf(" %s", kernel->name);
  std::printf("; default: %s\n", chosen.name);
  std::printf("database %lld codes, %lld queries, best of %d, all threads = %d\n",
              static_cast<long long>(opt.n), static_cast<long long>(opt.queries), opt.repeat, all);
  std::printf(
      "queries/s: each kernel and faiss on 1 thread (%s), the default kernel and faiss "
      "on all threads (wall clock); Gpairs/s and ratio: best kernel\n",
      g_wall_clock ? "wall clock" : "CPU time of the thread");
  std::printf("%5s %5s |", "bits", "k");
  for (const hamster::HammingKernel* kernel : kernels) std::printf(" %9s", kernel->name);
  std::printf(" | %9s", "Gpairs/s");
#ifdef HAMSTER_HAVE_FAISS
  std::printf(" | %9s %8s |", "faiss", "ratio");
#else
  std::printf(" |");
#endif
  std::printf(" %9s", "all thr.");
#ifdef HAMSTER_HAVE_FAISS
  std::printf(" %9s %8s", "faiss all", "ratio");
#endif
  std::printf("\n");
  bool ok = true;
  for (int64_t bits64 : opt.bits) {
    const int bits = static_cast<int>(bits64);
    SplitMix64 rng{static_cast<uint64_t>(bits)};
    const hamster::BinaryCodes db = random_codes(opt.n, bits, rng);
    const hamster::BinaryCodes q = random_codes(opt.queries, bits, rng);
#ifdef HAMSTER_HAVE_FAISS
    const bool faiss_fits = g_faiss && bits % 8 == 0;  // faiss codes are whole bytes
    faiss::IndexBinaryFlat index(faiss_fits ? bits : 8);
    if (faiss_fits) index.add(opt.n, faiss_bytes(db).data());
    const std::vector<uint8_t> fq = faiss_fits ? faiss_bytes(q) : std::vector<uint8_t>();
#endif
    for (int64_t k : opt.k) {
      if (k > opt.n) continue;
      const double nq = static_cast<double>(opt.queries);
      std::printf("%5d %5lld |", bits, static_cast<long long>(k));
      KnnOutput reference;
      double best = 1e300;
      for (const hamster::HammingKernel* kernel : kernels) {
        KnnOutput got;
        const double t = time_hamster(q, db, k, *kernel, 1, opt.repeat, got);
        best = std::min(best, t);
        if (kernel == kernels.front()) {
          reference = got;
        } else if (got.ids != reference.ids || got.distances != reference.distances) {
          std::printf("\n%s and %s results differ\n", kernel->name, kernels.front()->name);
          ok = false;
        }
        std::printf(" %9.0f", nq / t);
        std::fflush(stdout);
      }
      std::printf(" | %9.2f", nq * static_cast<double>(opt.n) / best * 1e-9);
#ifdef HAMSTER_HAVE_FAISS
      double tf1 = 0;
      if (faiss_fits) {
        KnnOutput f1;
        tf1 = time_faiss(index, fq, opt.queries, k, 1, opt.repeat, f1);
        if (const int64_t bad = distance_mismatches(reference, f1)) {
          std::printf("\nfaiss and hamster distances differ at %lld ranks\n",
                      static_cast<long long>(bad));
          ok = false;
        }
        std::printf(" | %9.0f %8.2f |", nq / tf1, tf1 / best);
      } else {
        std::printf(" | %9s %8s |", "-", "-");
      }
#else
      std::printf(" |");
#endif
      KnnOutput hall;
      const double thall = time_hamster(q, db, k, chosen, all, opt.repeat, hall);
      if (hall.ids != reference.ids || hall.distances != reference.distances) {
        std::printf("\n%s on %d threads differs from 1 thread\n", chosen.name, all);
        ok = false;
      }
      std::printf(" %9.0f", nq / thall);
#ifdef HAMSTER_HAVE_FAISS
      if (faiss_fits) {
        KnnOutput fall;
        const double tfall = time_faiss(index, fq, opt.queries, k, all, opt.repeat, fall);
        if (const int64_t bad = distance_mismatches(reference, fall)) {
          std::printf("\nfaiss and hamster distances differ at %lld ranks\n",
                      static_cast<long long>(bad));
          ok = false;
        }
        std::printf(" %9.0f %8.2f", nq / tfall, tfall / thall);
      }
#endif
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  return ok ? 0 : 1;
}
