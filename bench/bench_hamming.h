#pragma once
// What the parts of bench_hamming share: deterministic codes, timing, the CPU's name and
// faiss's copy of the codes.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "framework/codes/binary_codes.h"

#ifdef HAMSTER_HAVE_FAISS
#include <faiss/IndexBinaryFlat.h>
#include <omp.h>
#endif

namespace bench {

// One-thread runs are timed by the calling thread's CPU time: on a shared machine, time
// the thread spends descheduled is not the code's. --wall times them by the wall clock.
inline bool g_wall_clock = false;
// --no-faiss leaves faiss out (its copy of the codes then does not count in the peak RSS).
inline bool g_faiss = true;

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

inline hamster::BinaryCodes random_codes(int64_t n, int bits, SplitMix64& rng) {
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

inline double seconds_now(bool cpu) {
  timespec ts;
  clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Best time of `repeat` runs, in seconds: the least disturbed run. `threads` == 1 runs
// stay on the calling thread (TBB and OpenMP alike), so its CPU time is the run's.
inline double best_seconds(int repeat, int threads, const std::function<void()>& run) {
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
  void resize(int64_t n) {
    ids.resize(n);
    distances.resize(n);
  }
  bool operator==(const KnnOutput& o) const { return ids == o.ids && distances == o.distances; }
};

// The CPU's model name, as lscpu prints it.
inline std::string cpu_name() {
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
inline std::vector<uint8_t> faiss_bytes(const hamster::BinaryCodes& codes) {
  const size_t bytes = codes.bits() / 8;
  std::vector<uint8_t> out(codes.size() * bytes);
  for (int64_t i = 0; i < codes.size(); ++i)
    std::memcpy(out.data() + i * bytes, codes.row(i), bytes);
  return out;
}

inline double time_faiss(const faiss::IndexBinaryFlat& index, const std::vector<uint8_t>& q,
                         int64_t nq, int64_t k, int threads, int repeat, KnnOutput& out) {
  omp_set_num_threads(threads);
  out.resize(nq * k);
  return best_seconds(repeat, threads,
                      [&] { index.search(nq, q.data(), k, out.distances.data(), out.ids.data()); });
}

// Ties may be ordered differently, so compare the distance at every rank, not the ids.
inline int64_t distance_mismatches(const KnnOutput& a, const KnnOutput& b) {
  int64_t bad = 0;
  for (size_t i = 0; i < a.distances.size(); ++i) bad += a.distances[i] != b.distances[i];
  return bad;
}
#endif

// The tables besides the per-kernel one (bench_hamming_paths.cpp).
struct PathOptions {
  std::vector<std::string> code_dirs;  // folders written by `hamster export`
  bool clustered = false;              // synthetic clustered codes instead
  std::vector<int64_t> bits;
  std::vector<int64_t> n;
  std::vector<int64_t> k;
  int64_t queries = 1000;
  int repeat = 3;
};
// Scan, distinct-code path, MIH and faiss on exported (or clustered) codes, on one thread.
bool paths_table(const PathOptions& o);
// MIH against the scan on random codes, bits x N x k, on one thread.
bool mih_table(const PathOptions& o);

}  // namespace bench
