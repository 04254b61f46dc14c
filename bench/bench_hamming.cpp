// Stage-1 speed: hamster::hamming_knn on random codes, one thread and all threads, and
// (when built with HAMSTER_HAVE_FAISS) faiss::IndexBinaryFlat on the same data, checking
// that both return the same distances at every rank.
//
//   bench_hamming [--n N] [--queries Q] [--repeat R]
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/codes/hamming_search.h"

#ifdef HAMSTER_HAVE_FAISS
#include <faiss/IndexBinaryFlat.h>
#include <omp.h>
#endif

namespace {

struct Options {
  int64_t n = 1000000;
  int64_t queries = 1000;
  int repeat = 3;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--n" && has_value) {
      o.n = std::atoll(argv[++i]);
    } else if (a == "--queries" && has_value) {
      o.queries = std::atoll(argv[++i]);
    } else if (a == "--repeat" && has_value) {
      o.repeat = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--n N] [--queries Q] [--repeat R]\n", argv[0]);
      std::exit(2);
    }
  }
  if (o.n < 1 || o.queries < 1 || o.repeat < 1) {
    std::fprintf(stderr, "--n, --queries and --repeat must be positive\n");
    std::exit(2);
  }
  return o;
}

// SplitMix64: a fixed seed gives the same codes on every run and platform.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

hamster::BinaryCodes random_codes(int64_t n, int bits, SplitMix64& rng) {
  hamster::BinaryCodes codes(n, bits);
  const int tail = bits % 64;
  const uint64_t last_mask = tail ? (uint64_t{1} << tail) - 1 : ~uint64_t{0};
  for (int64_t i = 0; i < n; ++i) {
    uint64_t* r = codes.row(i);
    for (int w = 0; w < codes.words(); ++w) r[w] = rng.next();
    r[codes.words() - 1] &= last_mask;  // bits past `bits` must stay zero
  }
  return codes;
}

// Best wall time of `repeat` runs, in seconds: the least disturbed run on a shared machine.
double best_seconds(int repeat, const std::function<void()>& run) {
  double best = 1e300;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    best = std::min(best, dt.count());
  }
  return best;
}

struct KnnOutput {
  std::vector<int64_t> ids;
  std::vector<int32_t> distances;
};

double time_hamster(const hamster::BinaryCodes& q, const hamster::BinaryCodes& db, int64_t k,
                    int threads, int repeat, KnnOutput& out) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  out.ids.resize(q.size() * k);
  out.distances.resize(q.size() * k);
  return best_seconds(
      repeat, [&] { hamster::hamming_knn(q, db, k, out.ids.data(), out.distances.data()); });
}

#ifdef HAMSTER_HAVE_FAISS
// faiss stores a code as bits / 8 bytes; on little-endian x86 the first bytes of our
// words are exactly those (the rest of the last word is zero padding).
std::vector<uint8_t> faiss_bytes(const hamster::BinaryCodes& codes) {
  const size_t bytes = codes.bits() / 8;
  std::vector<uint8_t> out(codes.size() * bytes);
  for (int64_t i = 0; i < codes.size(); ++i)
    std::memcpy(out.data() + i * bytes, codes.row(i), bytes);
  return out;
}

double time_faiss(const faiss::IndexBinaryFlat& index, const std::vector<uint8_t>& q, int64_t nq,
                  int64_t k, int threads, int repeat, KnnOutput& out) {
  omp_set_num_threads(threads);
  out.ids.resize(nq * k);
  out.distances.resize(nq * k);
  return best_seconds(repeat,
                      [&] { index.search(nq, q.data(), k, out.distances.data(), out.ids.data()); });
}

// Ties may be ordered differently, so compare the distance at every rank, not the ids.
int64_t distance_mismatches(const KnnOutput& a, const KnnOutput& b) {
  int64_t bad = 0;
  for (size_t i = 0; i < a.distances.size(); ++i) bad += a.distances[i] != b.distances[i];
  return bad;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  const int all = tbb::info::default_concurrency();
  std::printf("database %lld codes, %lld queries, best of %d, all threads = %d\n",
              static_cast<long long>(opt.n), static_cast<long long>(opt.queries), opt.repeat, all);
  std::printf("queries/s:\n");
#ifdef HAMSTER_HAVE_FAISS
  std::printf("%5s %5s | %12s %12s | %12s %12s | %8s %8s\n", "bits", "k", "hamster 1T",
              "hamster all", "faiss 1T", "faiss all", "ratio 1T", "ratio all");
#else
  std::printf("%5s %5s | %12s %12s\n", "bits", "k", "hamster 1T", "hamster all");
#endif
  bool ok = true;
  for (int bits : {64, 32}) {
    SplitMix64 rng{static_cast<uint64_t>(bits)};
    const hamster::BinaryCodes db = random_codes(opt.n, bits, rng);
    const hamster::BinaryCodes q = random_codes(opt.queries, bits, rng);
#ifdef HAMSTER_HAVE_FAISS
    faiss::IndexBinaryFlat index(bits);
    index.add(opt.n, faiss_bytes(db).data());
    const std::vector<uint8_t> fq = faiss_bytes(q);
#endif
    for (int64_t k : {100, 1000}) {
      if (k > opt.n) continue;
      const double nq = static_cast<double>(opt.queries);
      KnnOutput h1, hall;
      const double th1 = time_hamster(q, db, k, 1, opt.repeat, h1);
      const double thall = time_hamster(q, db, k, all, opt.repeat, hall);
      if (h1.ids != hall.ids || h1.distances != hall.distances) {
        std::printf("hamster: 1-thread and %d-thread results differ\n", all);
        ok = false;
      }
#ifdef HAMSTER_HAVE_FAISS
      KnnOutput f1, fall;
      const double tf1 = time_faiss(index, fq, opt.queries, k, 1, opt.repeat, f1);
      const double tfall = time_faiss(index, fq, opt.queries, k, all, opt.repeat, fall);
      const int64_t bad = distance_mismatches(h1, f1) + distance_mismatches(h1, fall);
      if (bad) {
        std::printf("faiss and hamster distances differ at %lld ranks\n",
                    static_cast<long long>(bad));
        ok = false;
      }
      std::printf("%5d %5lld | %12.0f %12.0f | %12.0f %12.0f | %8.2f %8.2f\n", bits,
                  static_cast<long long>(k), nq / th1, nq / thall, nq / tf1, nq / tfall, tf1 / th1,
                  tfall / thall);
#else
      std::printf("%5d %5lld | %12.0f %12.0f\n", bits, static_cast<long long>(k), nq / th1,
                  nq / thall);
#endif
      std::fflush(stdout);
    }
  }
  return ok ? 0 : 1;
}
