// bench_hamming's tables of search paths: the plain scan, the distinct-code path,
// multi-index hashing and faiss on exported or clustered codes, and MIH against the scan
// on random codes; every result checked against the scan.
#include <tbb/global_control.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_hamming.h"
#include "framework/codes/distinct_codes.h"
#include "framework/codes/hamming_search.h"
#include "framework/codes/multi_index.h"
#include "framework/error.h"
#include "framework/npy.h"

namespace bench {
namespace {

struct CodeSet {
  std::string label;
  hamster::BinaryCodes db;
  hamster::BinaryCodes queries;
};

// A stand-in for learned codes where none are exported: `centres` random codes (the
// classes), each row one of them with every bit flipped with probability `flip`.
hamster::BinaryCodes clustered_codes(int64_t n, int bits, int centres, double flip,
                                     SplitMix64& rng) {
  const hamster::BinaryCodes centre = random_codes(centres, bits, rng);
  hamster::BinaryCodes out(n, bits);
  const auto threshold = static_cast<uint64_t>(flip * 18446744073709551616.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(centres));
    for (int b = 0; b < bits; ++b) out.set_bit(i, b, centre.bit(c, b) != (rng.next() < threshold));
  }
  return out;
}

std::vector<CodeSet> code_sets(const PathOptions& o) {
  std::vector<CodeSet> sets;
  for (const std::string& dir : o.code_dirs) {
    const std::filesystem::path d(dir);
    CodeSet s{d.filename().string(), hamster::load_code_bits(d / "db_codes.npy"),
              hamster::load_code_bits(d / "query_codes.npy")};
    if (s.label.empty()) s.label = d.parent_path().filename().string();
    sets.push_back(std::move(s));
  }
  if (o.clustered)
    for (int64_t bits : o.bits) {
      SplitMix64 rng{static_cast<uint64_t>(bits) * 7919};
      // 10 centres like Fashion-MNIST's classes; 3% of the bits flipped.
      sets.push_back({"clustered-" + std::to_string(bits) + " (synthetic)",
                      clustered_codes(o.n.front(), static_cast<int>(bits), 10, 0.03, rng),
                      clustered_codes(o.queries, static_cast<int>(bits), 10, 0.03, rng)});
    }
  return sets;
}

double queries_per_second(int64_t nq, double seconds) { return static_cast<double>(nq) / seconds; }

}  // namespace

bool paths_table(const PathOptions& o) {
  tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
  const hamster::HammingKernel& kernel = hamster::default_hamming_kernel();
  std::printf(
      "queries/s on 1 thread (%s), best of %d. scan: every row; distinct: the distinct-code "
      "path, collecting the distinct codes included; d.search: the same with them collected "
      "beforehand; auto: the path hamming_knn chooses; mih: multi-index hashing (index built "
      "beforehand); same: every path gave the scan's ids and distances (faiss: its "
      "distances)\n",
      g_wall_clock ? "wall clock" : "CPU time of the thread", o.repeat);
  std::printf("%-28s %4s %8s %8s %8s %5s | %9s %9s %9s %9s %9s %9s | %s\n", "codes", "bits", "N",
              "queries", "distinct", "k", "scan", "distinct", "d.search", "auto", "mih", "faiss",
              "same");
  bool ok = true;
  for (const CodeSet& set : code_sets(o)) {
    const int64_t nq = set.queries.size();
    hamster::DistinctCodes distinct;
    const double collect =
        best_seconds(o.repeat, 1, [&] { distinct = hamster::DistinctCodes(set.db); });
    const double t0 = seconds_now(true);
    const hamster::MultiIndexHashing mih(set.db);
    const double build_mih = seconds_now(true) - t0;
#ifdef HAMSTER_HAVE_FAISS
    const bool faiss_fits = g_faiss && set.db.bits() % 8 == 0;
    faiss::IndexBinaryFlat index(faiss_fits ? set.db.bits() : 8);
    if (faiss_fits) index.add(set.db.size(), faiss_bytes(set.db).data());
    const std::vector<uint8_t> fq = faiss_fits ? faiss_bytes(set.queries) : std::vector<uint8_t>();
#endif
    for (int64_t k : o.k) {
      if (k > set.db.size()) continue;
      KnnOutput scan, got;
      scan.resize(nq * k);
      got.resize(nq * k);
      bool same = true;
      const auto path = [&](hamster::KnnPath p) {
        const double t = best_seconds(o.repeat, 1, [&] {
          hamster::hamming_knn(set.queries, set.db, k, got.ids.data(), got.distances.data(), kernel,
                               p);
        });
        return t;
      };
      const double t_scan = path(hamster::KnnPath::scan);
      scan = got;
      const double t_distinct = path(hamster::KnnPath::distinct);
      same = same && got == scan;
      const double t_auto = path(hamster::KnnPath::automatic);
      same = same && got == scan;
      const double t_search = best_seconds(o.repeat, 1, [&] {
        hamster::hamming_knn(set.queries, distinct, k, got.ids.data(), got.distances.data(),
                             kernel);
      });
      same = same && got == scan;
      const double t_mih = best_seconds(
          o.repeat, 1, [&] { mih.knn(set.queries, k, got.ids.data(), got.distances.data()); });
      same = same && got == scan;
      std::string faiss_qps = "-";
#ifdef HAMSTER_HAVE_FAISS
      if (faiss_fits) {
        KnnOutput f;
        const double t = time_faiss(index, fq, nq, k, 1, o.repeat, f);
        same = same && distance_mismatches(scan, f) == 0;
        faiss_qps = std::to_string(std::lround(queries_per_second(nq, t)));
      }
#endif
      ok = ok && same;
      std::printf("%-28s %4d %8lld %8lld %8lld %5lld | %9.0f %9.0f %9.0f %9.0f %9.0f %9s | %s\n",
                  set.label.c_str(), set.db.bits(), static_cast<long long>(set.db.size()),
                  static_cast<long long>(nq), static_cast<long long>(distinct.size()),
                  static_cast<long long>(k), queries_per_second(nq, t_scan),
                  queries_per_second(nq, t_distinct), queries_per_second(nq, t_search),
                  queries_per_second(nq, t_auto), queries_per_second(nq, t_mih), faiss_qps.c_str(),
                  same ? "yes" : "NO");
      std::fflush(stdout);
    }
    std::printf(
        "%-28s collecting the %lld distinct codes: %.2f ms; MIH index (%d tables): %.2f ms\n",
        set.label.c_str(), static_cast<long long>(distinct.size()), collect * 1e3, mih.substrings(),
        build_mih * 1e3);
  }
  return ok;
}

bool mih_table(const PathOptions& o) {
  tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
  const hamster::HammingKernel& kernel = hamster::default_hamming_kernel();
  std::printf(
      "MIH against the scan on random codes, %lld queries/s on 1 thread (%s), best of %d; m: "
      "tables; probes and verified: per query; scanned: queries handed to the scan (their "
      "next ball of probes would have cost more); same: MIH gave the scan's ids and distances\n",
      static_cast<long long>(o.queries), g_wall_clock ? "wall clock" : "CPU time of the thread",
      o.repeat);
  std::printf("%4s %8s %5s | %9s %9s %7s | %2s %9s %9s %7s | %s\n", "bits", "N", "k", "scan", "mih",
              "mih/scan", "m", "probes", "verified", "scanned", "same");
  bool ok = true;
  for (int64_t bits64 : o.bits)
    for (int64_t n : o.n) {
      const int bits = static_cast<int>(bits64);
      SplitMix64 rng{static_cast<uint64_t>(bits) * 31 + static_cast<uint64_t>(n)};
      const hamster::BinaryCodes db = random_codes(n, bits, rng);
      const hamster::BinaryCodes q = random_codes(o.queries, bits, rng);
      const hamster::MultiIndexHashing mih(db);
      for (int64_t k : o.k) {
        if (k > n) continue;
        KnnOutput scan, got;
        scan.resize(o.queries * k);
        got.resize(o.queries * k);
        const double t_scan = best_seconds(o.repeat, 1, [&] {
          hamster::hamming_knn(q, db, k, scan.ids.data(), scan.distances.data(), kernel,
                               hamster::KnnPath::scan);
        });
        hamster::MultiIndexHashing::Work work;
        const double t_mih = best_seconds(
            o.repeat, 1, [&] { mih.knn(q, k, got.ids.data(), got.distances.data(), &work); });
        const bool same = got == scan;
        ok = ok && same;
        const double nq = static_cast<double>(o.queries);
        std::printf("%4d %8lld %5lld | %9.0f %9.0f %7.2fx | %2d %9.0f %9.0f %7lld | %s\n", bits,
                    static_cast<long long>(n), static_cast<long long>(k), nq / t_scan, nq / t_mih,
                    t_scan / t_mih, mih.substrings(), static_cast<double>(work.probes) / nq,
                    static_cast<double>(work.verified) / nq,
                    static_cast<long long>(work.scanned_queries), same ? "yes" : "NO");
        std::fflush(stdout);
      }
    }
  return ok;
}

}  // namespace bench
