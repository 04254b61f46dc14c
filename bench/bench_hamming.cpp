// Stage-1 speed: hamster::hamming_knn on random codes with every Hamming kernel this CPU
// runs, side by side, on one thread (and the default kernel on all threads), and (when
// built with HAMSTER_HAVE_FAISS) faiss::IndexBinaryFlat on the same data. Every kernel
// must return the scalar kernel's ids and distances; faiss the same distances at every
// rank (it may order ties differently).
//
//   bench_hamming [--n N] [--queries Q] [--repeat R] [--bits 64,32] [--k 100,1000] [--wall]
//                 [--no-faiss]
//
// One-thread figures are per CPU second of the calling thread unless --wall is given.
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
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

// One-thread runs are timed by the calling thread's CPU time: on a shared machine, time
// the thread spends descheduled is not the code's. --wall times them by the wall clock.
bool g_wall_clock = false;
// --no-faiss leaves faiss out (its copy of the codes then does not count in the peak RSS).
bool g_faiss = true;

struct Options {
  int64_t n = 1000000;
  int64_t queries = 1000;
  int repeat = 3;
  std::vector<int64_t> bits = {64, 32};
  std::vector<int64_t> k = {100, 1000};
};

// "64,32" -> {64, 32}; empty or non-positive entries are refused by the caller.
std::vector<int64_t> parse_list(const char* text) {
  std::vector<int64_t> out;
  for (const char* p = text; *p;) {
    char* end = nullptr;
    out.push_back(std::strtoll(p, &end, 10));
    if (end == p) return {};
    p = *end == ',' ? end + 1 : end;
    if (*end != ',' && *end != '\0') return {};
  }
  return out;
}

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
    } else if (a == "--bits" && has_value) {
      o.bits = parse_list(argv[++i]);
    } else if (a == "--k" && has_value) {
      o.k = parse_list(argv[++i]);
    } else if (a == "--wall") {
      g_wall_clock = true;
    } else if (a == "--no-faiss") {
      g_faiss = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--n N] [--queries Q] [--repeat R] [--bits 64,32] [--k 100,1000] "
                   "[--wall] [--no-faiss]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  auto positive = [](const std::vector<int64_t>& v) {
    return !v.empty() && std::all_of(v.begin(), v.end(), [](int64_t x) { return x > 0; });
  };
  if (o.n < 1 || o.queries < 1 || o.repeat < 1 || !positive(o.bits) || !positive(o.k)) {
    std::fprintf(stderr, "--n, --queries, --repeat, --bits and --k must be positive\n");
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

double seconds_now(bool cpu) {
  timespec ts;
  clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Best time of `repeat` runs, in seconds: the least disturbed run. `threads` == 1 runs
// stay on the calling thread (TBB and OpenMP alike), so its CPU time is the run's.
double best_seconds(int repeat, int threads, const std::function<void()>& run) {
  const bool cpu = threads == 1 && !g_wall_clock;
  double best = 1e300;
  for (int i = 0; i < repeat; ++i) {
    const double t0 = seconds_now(cpu);
    run();
    best = std::min(best, seconds_now(cpu) - t0);
  }
  return best;
}

struct KnnOutput {
  std::vector<int64_t> ids;
  std::vector<int32_t> distances;
};

double time_hamster(const hamster::BinaryCodes& q, const hamster::BinaryCodes& db, int64_t k,
                    const hamster::HammingKernel& kernel, int threads, int repeat, KnnOutput& out) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  out.ids.resize(q.size() * k);
  out.distances.resize(q.size() * k);
  return best_seconds(repeat, threads, [&] {
    hamster::hamming_knn(q, db, k, out.ids.data(), out.distances.data(), kernel);
  });
}

// The CPU's model name, as lscpu prints it.
std::string cpu_name() {
  std::FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return "unknown CPU";
  char line[512];
  std::string name = "unknown CPU";
  while (std::fgets(line, sizeof line, f)) {
    const char* colon = std::strchr(line, ':');
    if (std::strncmp(line, "model name", 10) == 0 && colon) {
      name = colon + 2;
      if (!name.empty() && name.back() == '\n') name.pop_back();
      break;
    }
  }
  std::fclose(f);
  return name;
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
  return best_seconds(repeat, threads,
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
