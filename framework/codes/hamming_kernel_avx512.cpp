// The AVX-512 kernel: VPOPCNTQ / VPOPCNTD / VPOPCNTW count 8, 16 or 32 codes per
// instruction. Built with -mavx512f -mavx512bw -mavx512vpopcntdq -mavx512bitalg; handed
// out only on CPUs with all four (Ice Lake, Zen 4 and later).
#include <immintrin.h>

#include "framework/codes/hamming_kernel.h"

namespace hamster {
namespace {

// One lane width: the instructions that differ between 64-, 32- and 16-bit lanes. Their
// names differ only in the width (_mm512_popcnt_epi64, _epi32, _epi16, ...), so one macro
// writes the three: BITS the lane width, SCALAR set1's argument type, MASK the mask type of
// BITS-bit lanes.
#define HAMSTER_AVX512_LANES(NAME, BITS, SCALAR, MASK)                                         \
  struct NAME {                                                                                \
    using Lane = uint##BITS##_t;                                                               \
    static constexpr int kCount = 512 / BITS;                                                  \
    static __m512i set1(uint64_t v) { return _mm512_set1_epi##BITS(static_cast<SCALAR>(v)); }  \
    static __m512i popcount(__m512i x) { return _mm512_popcnt_epi##BITS(x); }                  \
    static __m512i min(__m512i a, __m512i b) { return _mm512_min_epu##BITS(a, b); }            \
    static uint64_t less(__m512i a, __m512i b) { return _mm512_cmplt_epu##BITS##_mask(a, b); } \
    static uint64_t less(uint64_t m, __m512i a, __m512i b) {                                   \
      return _mm512_mask_cmplt_epu##BITS##_mask(static_cast<MASK>(m), a, b);                   \
    }                                                                                          \
    static __m512i load(uint64_t m, const Lane* p) {                                           \
      return _mm512_maskz_loadu_epi##BITS(static_cast<MASK>(m), p);                            \
    }                                                                                          \
  };
HAMSTER_AVX512_LANES(Lanes64, 64, long long, __mmask8)
HAMSTER_AVX512_LANES(Lanes32, 32, int, __mmask16)
HAMSTER_AVX512_LANES(Lanes16, 16, short, __mmask32)
#undef HAMSTER_AVX512_LANES

// The first `left` lanes of a register (all of them when left >= lanes).
inline uint64_t first_lanes(int64_t left, int lanes) {
  return left >= lanes ? (lanes == 64 ? ~uint64_t{0} : (uint64_t{1} << lanes) - 1)
                       : (uint64_t{1} << left) - 1;
}

// Appends rows base + i for the bits i set in `hits`, with their distances; returns the new
// count. A hit's distance is counted again with scalar POPCNT rather than read back from
// a stored register (a store-forwarding stall); it measured as fast as VPCOMPRESS into
// the outputs, and needs no slack past them.
template <class Distance>
inline int64_t append(uint64_t hits, int64_t base, Distance distance, uint32_t* pos, uint16_t* dist,
                      int64_t count) {
  for (; hits; hits &= hits - 1) {
    const int64_t row = base + __builtin_ctzll(hits);
    pos[count] = static_cast<uint32_t>(row);
    dist[count] = static_cast<uint16_t>(distance(row));
    ++count;
  }
  return count;
}

// Rows below the limit, given `distances(j, valid)`: the distances of the L::kCount rows
// from j (those outside `valid` read as zero), and `distance(j)`: row j's alone. Hits are
// rare, so four registers go by with one branch on their lane-wise minimum, and a group
// with a hit gathers its hits from one mask of all its lanes (two for 16-bit lanes).
template <class L, class Distances, class Distance>
inline int64_t below(Distances distances, Distance distance, int64_t n, int limit, uint32_t* pos,
                     uint16_t* dist) {
  constexpr int V = L::kCount;
  const __m512i lim = L::set1(static_cast<uint32_t>(limit));
  int64_t count = 0;
  int64_t j = 0;
  for (; j + 4 * V <= n; j += 4 * V) {
    const __m512i d0 = distances(j, ~uint64_t{0});
    const __m512i d1 = distances(j + V, ~uint64_t{0});
    const __m512i d2 = distances(j + 2 * V, ~uint64_t{0});
    const __m512i d3 = distances(j + 3 * V, ~uint64_t{0});
    if (__builtin_expect(L::less(L::min(L::min(d0, d1), L::min(d2, d3)), lim) != 0, 0)) {
      const uint64_t m01 = L::less(d0, lim) | L::less(d1, lim) << V;
      const uint64_t m23 = L::less(d2, lim) | L::less(d3, lim) << V;
      if constexpr (4 * V <= 64) {
        count = append(m01 | m23 << (2 * V), j, distance, pos, dist, count);
      } else {
        count = append(m01, j, distance, pos, dist, count);
        count = append(m23, j + 2 * V, distance, pos, dist, count);
      }
    }
  }
  for (; j < n; j += V) {
    const uint64_t valid = first_lanes(n - j, V);
    count = append(L::less(valid, distances(j, valid), lim), j, distance, pos, dist, count);
  }
  return count;
}

// Codes of one lane each (a row of one word is a 64-bit lane).
template <class L>
int64_t below_lanes(typename L::Lane query, const typename L::Lane* codes, int64_t n, int limit,
                    uint32_t* pos, uint16_t* dist) {
  const __m512i q = L::set1(query);
  return below<L>(
      [&](int64_t j, uint64_t valid) {
        return L::popcount(_mm512_xor_si512(L::load(valid, codes + j), q));
      },
      [&](int64_t j) { return __builtin_popcountll(static_cast<uint64_t>(codes[j] ^ query)); }, n,
      limit, pos, dist);
}

// Rows of two words: eight rows are two registers; adding the even lanes to the odd ones
// gives the eight distances in row order.
struct TwoWords {
  __m512i query, even, odd;
  explicit TwoWords(const uint64_t* q)
      : query(_mm512_set_epi64(q[1], q[0], q[1], q[0], q[1], q[0], q[1], q[0])),
        even(_mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0)),
        odd(_mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1)) {}
  // Distances of rows j .. j+7 (the rows flagged in `valid`; the others read as zero).
  __m512i operator()(const uint64_t* rows, int64_t j, uint64_t valid) const {
    // Two mask bits per valid row; the valid rows are always a prefix.
    const uint64_t words = first_lanes(2 * __builtin_popcountll(valid & 0xff), 16);
    const uint64_t* p = rows + 2 * j;
    const __m512i a = _mm512_popcnt_epi64(
        _mm512_xor_si512(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(words), p), query));
    const __m512i b = _mm512_popcnt_epi64(_mm512_xor_si512(
        _mm512_maskz_loadu_epi64(static_cast<__mmask8>(words >> 8), p + 8), query));
    return _mm512_add_epi64(_mm512_permutex2var_epi64(a, even, b),
                            _mm512_permutex2var_epi64(a, odd, b));
  }
};

#include "framework/codes/hamming_kernel_simd_tail.inc"

void distances_rows(const uint64_t* query, const uint64_t* rows, int64_t n, int words,
                    uint16_t* out) {
  if (words == 1) {
    const __m512i q = _mm512_set1_epi64(static_cast<long long>(query[0]));
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m512i d = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(rows + j), q));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), _mm512_cvtepi64_epi16(d));
    }
    if (j < n) {
      const __mmask8 valid = static_cast<__mmask8>(first_lanes(n - j, 8));
      const __m512i d =
          _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(valid, rows + j), q));
      _mm512_mask_cvtepi64_storeu_epi16(out + j, valid, d);
    }
  } else if (words == 2) {
    const TwoWords eight(query);
    for (int64_t j = 0; j < n; j += 8) {
      const __mmask8 valid = static_cast<__mmask8>(first_lanes(n - j, 8));
      _mm512_mask_cvtepi64_storeu_epi16(out + j, valid, eight(rows, j, valid));
    }
  } else {
    for (int64_t j = 0; j < n; ++j)
      out[j] = static_cast<uint16_t>(row_distance(query, rows + j * words, words));
  }
}

int64_t below_rows(const uint64_t* query, const uint64_t* rows, int64_t n, int words, int limit,
                   uint32_t* pos, uint16_t* dist) {
  if (words == 1) return below_lanes<Lanes64>(query[0], rows, n, limit, pos, dist);
  if (words == 2) {
    const TwoWords eight(query);
    return below<Lanes64>([&](int64_t j, uint64_t valid) { return eight(rows, j, valid); },
                          [&](int64_t j) { return row_distance(query, rows + 2 * j, 2); }, n, limit,
                          pos, dist);
  }
  return below_each_row(query, rows, n, words, limit, pos, dist);
}

constexpr HammingKernel kAvx512{"avx512", distances_rows, below_rows, below_u32, below_u16};

}  // namespace

const HammingKernel& avx512_hamming_kernel() { return kAvx512; }

}  // namespace hamster
