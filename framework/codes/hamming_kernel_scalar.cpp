// The scalar kernel: one 64-bit popcount per word, on any CPU. Built without extra -m
// flags; on x86-64 its loops are compiled a second time for the POPCNT instruction, and
// the POPCNT copy is the one handed out when the CPU has it (every x86-64 CPU since 2008;
// without it __builtin_popcountll is a library call).
#include "framework/codes/hamming_kernel.h"

namespace hamster {
namespace {

// W > 0 fixes the words per code at compile time so the loop unrolls; W == 0 reads the
// length at run time.
template <int W>
inline int row_distance(const uint64_t* a, const uint64_t* b, int words) {
  const int n = W > 0 ? W : words;
  int d = 0;
  for (int w = 0; w < n; ++w) d += __builtin_popcountll(a[w] ^ b[w]);
  return d;
}

inline int smallest(int a, int b) { return a < b ? a : b; }

// Hits are rare (a few per thousand rows for a kNN query on a large database), so rows go
// four at a time with one well-predicted branch on their smallest distance.
template <class Distance>
inline int64_t below(Distance distance, int64_t n, int limit, uint32_t* pos, uint16_t* dist) {
  int64_t count = 0;
  auto keep = [&](int64_t j, int d) {
    if (d < limit) {
      pos[count] = static_cast<uint32_t>(j);
      dist[count] = static_cast<uint16_t>(d);
      ++count;
    }
  };
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const int d0 = distance(j), d1 = distance(j + 1), d2 = distance(j + 2), d3 = distance(j + 3);
    if (__builtin_expect(smallest(smallest(d0, d1), smallest(d2, d3)) < limit, 0)) {
      keep(j, d0);
      keep(j + 1, d1);
      keep(j + 2, d2);
      keep(j + 3, d3);
    }
  }
  for (; j < n; ++j) keep(j, distance(j));
  return count;
}

template <int W>
void distances_words(const uint64_t* query, const uint64_t* rows, int64_t n, int words,
                     uint16_t* out) {
  const int64_t step = W > 0 ? W : words;
  for (int64_t j = 0; j < n; ++j)
    out[j] = static_cast<uint16_t>(row_distance<W>(query, rows + j * step, words));
}

template <int W>
int64_t below_words(const uint64_t* query, const uint64_t* rows, int64_t n, int words, int limit,
                    uint32_t* pos, uint16_t* dist) {
  const int64_t step = W > 0 ? W : words;
  return below([&](int64_t j) { return row_distance<W>(query, rows + j * step, words); }, n, limit,
               pos, dist);
}

void distances_rows(const uint64_t* query, const uint64_t* rows, int64_t n, int words,
                    uint16_t* out) {
  if (words == 1) return distances_words<1>(query, rows, n, words, out);
  if (words == 2) return distances_words<2>(query, rows, n, words, out);
  distances_words<0>(query, rows, n, words, out);
}

int64_t below_rows(const uint64_t* query, const uint64_t* rows, int64_t n, int words, int limit,
                   uint32_t* pos, uint16_t* dist) {
  if (words == 1) return below_words<1>(query, rows, n, words, limit, pos, dist);
  if (words == 2) return below_words<2>(query, rows, n, words, limit, pos, dist);
  return below_words<0>(query, rows, n, words, limit, pos, dist);
}

template <class Lane>
int64_t below_lanes(Lane query, const Lane* codes, int64_t n, int limit, uint32_t* pos,
                    uint16_t* dist) {
  return below(
      [&](int64_t j) { return __builtin_popcountll(static_cast<uint64_t>(query ^ codes[j])); }, n,
      limit, pos, dist);
}

int64_t below_u32(uint32_t query, const uint32_t* codes, int64_t n, int limit, uint32_t* pos,
                  uint16_t* dist) {
  return below_lanes(query, codes, n, limit, pos, dist);
}

int64_t below_u16(uint16_t query, const uint16_t* codes, int64_t n, int limit, uint32_t* pos,
                  uint16_t* dist) {
  return below_lanes(query, codes, n, limit, pos, dist);
}

constexpr HammingKernel kPortable{"scalar", distances_rows, below_rows, below_u32, below_u16};

#if defined(__x86_64__)
// The same loops again, inlined whole into functions compiled for POPCNT.
#define HAMSTER_POPCNT __attribute__((target("popcnt"), flatten))

HAMSTER_POPCNT void distances_rows_popcnt(const uint64_t* query, const uint64_t* rows, int64_t n,
                                          int words, uint16_t* out) {
  distances_rows(query, rows, n, words, out);
}

HAMSTER_POPCNT int64_t below_rows_popcnt(const uint64_t* query, const uint64_t* rows, int64_t n,
                                         int words, int limit, uint32_t* pos, uint16_t* dist) {
  return below_rows(query, rows, n, words, limit, pos, dist);
}

HAMSTER_POPCNT int64_t below_u32_popcnt(uint32_t query, const uint32_t* codes, int64_t n, int limit,
                                        uint32_t* pos, uint16_t* dist) {
  return below_u32(query, codes, n, limit, pos, dist);
}

HAMSTER_POPCNT int64_t below_u16_popcnt(uint16_t query, const uint16_t* codes, int64_t n, int limit,
                                        uint32_t* pos, uint16_t* dist) {
  return below_u16(query, codes, n, limit, pos, dist);
}

#undef HAMSTER_POPCNT

constexpr HammingKernel kPopcnt{"scalar", distances_rows_popcnt, below_rows_popcnt,
                                below_u32_popcnt, below_u16_popcnt};
#endif

}  // namespace

const HammingKernel& scalar_hamming_kernel() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("popcnt")) return kPopcnt;
#endif
  return kPortable;
}

}  // namespace hamster
