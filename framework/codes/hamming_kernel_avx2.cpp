// The AVX2 kernel: popcount by nibble lookup (Muła, Kurz and Lemire, "Faster population
// counts using AVX2 instructions"): two VPSHUFB give the bit count of every byte, which
// are then summed per 64-, 32- or 16-bit lane. Built with -mavx2 -mpopcnt.
#include <immintrin.h>

#include "framework/codes/hamming_kernel.h"

namespace hamster {
namespace {

inline __m256i byte_counts(__m256i x) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  const __m256i low = _mm256_shuffle_epi8(table, _mm256_and_si256(x, nibble));
  const __m256i high =
      _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble));
  return _mm256_add_epi8(low, high);
}

// One lane width. less() flags lane i of a < b at bit i * kMaskStride of its result.
template <class LaneType, int MaskStride>
struct LaneWidth {
  using Lane = LaneType;
  static constexpr int kCount = 32 / sizeof(Lane);
  static constexpr int kMaskStride = MaskStride;
};

struct Lanes64 : LaneWidth<uint64_t, 1> {
  static __m256i set1(uint64_t v) { return _mm256_set1_epi64x(static_cast<long long>(v)); }
  static __m256i popcount(__m256i x) {
    return _mm256_sad_epu8(byte_counts(x), _mm256_setzero_si256());
  }
  // Counts fit in the low half of each lane and the high half is zero.
  static __m256i min(__m256i a, __m256i b) { return _mm256_min_epu32(a, b); }
  static uint32_t less(__m256i a, __m256i b) {
    return static_cast<uint32_t>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(b, a))));
  }
};

struct Lanes16 : LaneWidth<uint16_t, 2> {
  static __m256i set1(uint32_t v) { return _mm256_set1_epi16(static_cast<short>(v)); }
  // Adjacent byte counts summed into 16-bit lanes.
  static __m256i popcount(__m256i x) {
    return _mm256_maddubs_epi16(byte_counts(x), _mm256_set1_epi8(1));
  }
  static __m256i min(__m256i a, __m256i b) { return _mm256_min_epu16(a, b); }
  // A byte mask: both bits of a lane are set together, keep the low one.
  static uint32_t less(__m256i a, __m256i b) {
    return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpgt_epi16(b, a))) & 0x55555555u;
  }
};

struct Lanes32 : LaneWidth<uint32_t, 1> {
  static __m256i set1(uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }
  // The 16-bit counts, adjacent pairs summed into 32-bit lanes.
  static __m256i popcount(__m256i x) {
    return _mm256_madd_epi16(Lanes16::popcount(x), _mm256_set1_epi16(1));
  }
  static __m256i min(__m256i a, __m256i b) { return _mm256_min_epu32(a, b); }
  static uint32_t less(__m256i a, __m256i b) {
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(b, a))));
  }
};

// Appends rows base + i for the lanes i flagged in `hits` (lane i at bit i * stride), with
// their distances; returns the new count. A hit's distance is counted again with scalar
// POPCNT: cheaper than storing the register and reading a lane back.
template <class Distance>
inline int64_t append(uint64_t hits, int stride, int64_t base, Distance distance, uint32_t* pos,
                      uint16_t* dist, int64_t count) {
  for (; hits; hits &= hits - 1) {
    const int64_t row = base + __builtin_ctzll(hits) / stride;
    pos[count] = static_cast<uint32_t>(row);
    dist[count] = static_cast<uint16_t>(distance(row));
    ++count;
  }
  return count;
}

// Codes of one lane each (a row of one word is a 64-bit lane). Hits are rare, so four
// registers go by with one branch on their lane-wise minimum; the last few codes are
// counted one by one with POPCNT.
template <class L>
int64_t below_lanes(typename L::Lane query, const typename L::Lane* codes, int64_t n, int limit,
                    uint32_t* pos, uint16_t* dist) {
  constexpr int V = L::kCount;
  constexpr int S = L::kMaskStride;
  const __m256i q = L::set1(query);
  const __m256i lim = L::set1(static_cast<uint32_t>(limit));
  auto distances = [&](int64_t j) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + j));
    return L::popcount(_mm256_xor_si256(x, q));
  };
  auto distance = [&](int64_t j) {
    return __builtin_popcountll(static_cast<uint64_t>(query ^ codes[j]));
  };
  int64_t count = 0;
  int64_t j = 0;
  for (; j + 4 * V <= n; j += 4 * V) {
    const __m256i d0 = distances(j), d1 = distances(j + V), d2 = distances(j + 2 * V),
                  d3 = distances(j + 3 * V);
    if (__builtin_expect(L::less(L::min(L::min(d0, d1), L::min(d2, d3)), lim) != 0, 0)) {
      const uint64_t m01 = L::less(d0, lim) | uint64_t{L::less(d1, lim)} << (V * S);
      const uint64_t m23 = L::less(d2, lim) | uint64_t{L::less(d3, lim)} << (V * S);
      count = append(m01, S, j, distance, pos, dist, count);
      count = append(m23, S, j + 2 * V, distance, pos, dist, count);
    }
  }
  for (; j < n; ++j) {
    const int d = distance(j);
    if (d < limit) {
      pos[count] = static_cast<uint32_t>(j);
      dist[count] = static_cast<uint16_t>(d);
      ++count;
    }
  }
  return count;
}

#include "framework/codes/hamming_kernel_simd_tail.inc"

void distances_rows(const uint64_t* query, const uint64_t* rows, int64_t n, int words,
                    uint16_t* out) {
  int64_t j = 0;
  if (words == 1) {
    const __m256i q = _mm256_set1_epi64x(static_cast<long long>(query[0]));
    alignas(32) uint64_t d[4];
    for (; j + 4 <= n; j += 4) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + j));
      _mm256_store_si256(reinterpret_cast<__m256i*>(d), Lanes64::popcount(_mm256_xor_si256(x, q)));
      for (int i = 0; i < 4; ++i) out[j + i] = static_cast<uint16_t>(d[i]);
    }
  }
  for (; j < n; ++j) out[j] = static_cast<uint16_t>(row_distance(query, rows + j * words, words));
}

int64_t below_rows(const uint64_t* query, const uint64_t* rows, int64_t n, int words, int limit,
                   uint32_t* pos, uint16_t* dist) {
  if (words == 1) return below_lanes<Lanes64>(query[0], rows, n, limit, pos, dist);
  return below_each_row(query, rows, n, words, limit, pos, dist);
}

constexpr HammingKernel kAvx2{"avx2", distances_rows, below_rows, below_u32, below_u16};

}  // namespace

const HammingKernel& avx2_hamming_kernel() { return kAvx2; }

}  // namespace hamster
