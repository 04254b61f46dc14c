#include "framework/graph/panel_product.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "framework/floats8.h"

namespace hamster {
namespace {

// The rows [begin, end) of n, split in chunks for the cores.
template <class Fn>
void for_chunks(int64_t n, Fn&& fn) {
  constexpr int64_t kChunk = 4096;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, kChunk),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}

// 32 floats (two cache lines per stored entry) halve S's traffic against 16 and keep the panel
// (69,000 x 32 floats, 8.8 MB) in the last-level cache.
constexpr int kPanel = 32;

// One step on rows [begin, end) of a panel (n x kPanel, row-major):
//   out = scale (S cur - shift cur) - (subtract ? out : 0),
// row by row: row i of `out` is read only to be replaced, so it may hold the step before
// `cur` (the Chebyshev recurrence overwrites T_k-1 with T_k+1). The new rows' sums of
// squares are added to `squares` (kPanel of them).
[[gnu::always_inline]] inline void panel_step(const CompactRows& s, const float* cur, float* out,
                                              float scale, float shift, bool subtract,
                                              int64_t begin, int64_t end, double* squares) {
  constexpr int kVectors = kPanel / 8;
  Floats8 sq[kVectors] = {};
  const int64_t* outer = s.outer.data();
  const int32_t* inner = s.inner.data();
  const float* value = s.value.data();
  for (int64_t i = begin; i < end; ++i) {
    Floats8 acc[kVectors] = {};
    for (int64_t e = outer[i]; e < outer[i + 1]; ++e) {
      const Floats8* row = reinterpret_cast<const Floats8*>(cur + int64_t{inner[e]} * kPanel);
      const float a = value[e];
      for (int v = 0; v < kVectors; ++v) acc[v] += a * row[v];
    }
    const Floats8* self = reinterpret_cast<const Floats8*>(cur + i * kPanel);
    Floats8* o = reinterpret_cast<Floats8*>(out + i * kPanel);
    for (int v = 0; v < kVectors; ++v) {
      Floats8 next = scale * (acc[v] - shift * self[v]);
      if (subtract) next -= o[v];
      o[v] = next;
      sq[v] += next * next;
    }
  }
  for (int v = 0; v < kVectors; ++v)
    for (int k = 0; k < 8; ++k) squares[8 * v + k] += sq[v][k];
}

// The same loop compiled for AVX2 with FMA, chosen at run time: the build targets baseline
// x86-64, where this loop runs about 3x slower (measured on the 69,000-node graph). An
// AVX-512 copy (a 16-wide panel row in one register) was no faster: 127.5 s against 116.0 s
// for rank 1,000 on Zen 4, the loop being bound by memory.
[[gnu::target("avx2,fma")]] void panel_step_avx2(const CompactRows& s, const float* cur, float* out,
                                                 float scale, float shift, bool subtract,
                                                 int64_t begin, int64_t end, double* squares) {
  panel_step(s, cur, out, scale, shift, subtract, begin, end, squares);
}

void panel_step_baseline(const CompactRows& s, const float* cur, float* out, float scale,
                         float shift, bool subtract, int64_t begin, int64_t end, double* squares) {
  panel_step(s, cur, out, scale, shift, subtract, begin, end, squares);
}

// panel_step over all n rows, split in fixed chunks for the cores; returns each panel
// column's squared norm, summed in chunk order (the same on every run).
std::array<double, kPanel> panel_pass(const CompactRows& s, const float* cur, float* out,
                                      float scale, float shift, bool subtract) {
  static const auto kernel = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                                 ? panel_step_avx2
                                 : panel_step_baseline;
  constexpr int64_t kChunk = 2048;
  const int64_t chunks = (s.n + kChunk - 1) / kChunk;
  std::vector<std::array<double, kPanel>> squares(chunks);
  tbb::parallel_for(int64_t{0}, chunks, [&](int64_t c) {
    squares[c].fill(0);
    kernel(s, cur, out, scale, shift, subtract, c * kChunk, std::min(s.n, (c + 1) * kChunk),
           squares[c].data());
  });
  std::array<double, kPanel> total{};
  for (const auto& part : squares)
    for (int k = 0; k < kPanel; ++k) total[k] += part[k];
  return total;
}

// Rows [first, first + width) of `m` into a panel (n x kPanel), zero-padded, and back.
void to_panel(const RowMatrix& m, int first, int width, std::vector<float>& panel) {
  const int64_t n = m.cols();
  panel.resize(static_cast<size_t>(n) * kPanel);
  for_chunks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      for (int k = 0; k < kPanel; ++k) panel[i * kPanel + k] = k < width ? m(first + k, i) : 0.0f;
  });
}

void from_panel(const std::vector<float>& panel, int first, int width, RowMatrix& m) {
  for_chunks(m.cols(), [&](int64_t begin, int64_t end) {
    for (int k = 0; k < width; ++k)
      for (int64_t i = begin; i < end; ++i) m(first + k, i) = panel[i * kPanel + k];
  });
}

}  // namespace

void multiply(const CompactRows& s, const RowMatrix& in, RowMatrix& out) {
  const int b = static_cast<int>(in.rows());
  out.resize(b, in.cols());
  std::vector<float> x, y(static_cast<size_t>(in.cols()) * kPanel);
  for (int first = 0; first < b; first += kPanel) {
    const int width = std::min(kPanel, b - first);
    to_panel(in, first, width, x);
    panel_pass(s, x.data(), y.data(), 1.0f, 0.0f, false);
    from_panel(y, first, width, out);
  }
}

CompactRows compact(const SparseMatrix& s) {
  CompactRows c;
  c.n = s.rows();
  c.outer.assign(s.outerIndexPtr(), s.outerIndexPtr() + s.rows() + 1);
  c.inner.assign(s.innerIndexPtr(), s.innerIndexPtr() + s.nonZeros());
  c.value.assign(s.valuePtr(), s.valuePtr() + s.nonZeros());
  return c;
}

// A panel goes through all d steps before the next panel: the three-term recurrence
// T_k+1 = 2 (S - c) / e T_k - T_k-1 runs inside the product's loop, T_k+1 written over
// T_k-1, so no step makes a pass over the whole block.
void chebyshev_filter(const CompactRows& s, RowMatrix& x, int degree, double lo, double cut) {
  const float e = static_cast<float>((cut - lo) / 2), c = static_cast<float>((cut + lo) / 2);
  const int b = static_cast<int>(x.rows());
  const int64_t n = x.cols();
  std::vector<float> current, other(static_cast<size_t>(n) * kPanel);
  for (int first = 0; first < b; first += kPanel) {
    const int width = std::min(kPanel, b - first);
    to_panel(x, first, width, current);
    panel_pass(s, current.data(), other.data(), 1 / e, c, false);  // T_1
    std::swap(current, other);                                     // other: T_0
    for (int k = 2; k <= degree; ++k) {
      const std::array<double, kPanel> squares =
          panel_pass(s, current.data(), other.data(), 2 / e, c, true);
      std::swap(current, other);  // current: T_k, other: T_k-1
      for (int v = 0; v < width; ++v) {
        const double norm = std::sqrt(squares[v]);
        if (norm > 1e10) {  // keep T_k and T_k-1 in proportion, far from overflow
          const float scale = static_cast<float>(1 / norm);
          for (int64_t i = 0; i < n; ++i) {
            current[i * kPanel + v] *= scale;
            other[i * kPanel + v] *= scale;
          }
        }
      }
    }
    from_panel(current, first, width, x);
  }
}

}  // namespace hamster
