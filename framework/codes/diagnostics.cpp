#include "framework/codes/diagnostics.h"

#include <cmath>
#include <string>
#include <vector>

#include "framework/error.h"

namespace hamster {

namespace {

// Bit b of every item as one packed column: pairwise agreement counts become popcounts
// over n/64 words instead of a pass over all n items per pair.
std::vector<std::vector<uint64_t>> bit_columns(const BinaryCodes& codes) {
  const int64_t n = codes.size();
  std::vector<std::vector<uint64_t>> columns(codes.bits(), std::vector<uint64_t>((n + 63) / 64, 0));
  for (int64_t i = 0; i < n; ++i)
    for (int b = 0; b < codes.bits(); ++b)
      if (codes.bit(i, b)) columns[b][i >> 6] |= uint64_t{1} << (i & 63);
  return columns;
}

int64_t popcount_and(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  int64_t count = 0;
  for (size_t w = 0; w < a.size(); ++w) count += __builtin_popcountll(a[w] & b[w]);
  return count;
}

}  // namespace

CodeDiagnostics code_diagnostics(const BinaryCodes& codes, const Embedding& real) {
  const int64_t n = codes.size();
  const int bits = codes.bits();
  if (n == 0) throw Error("code diagnostics: no codes");
  if (real.rows() != n || real.cols() != bits)
    throw Error("code diagnostics: real output is " + std::to_string(real.rows()) + "x" +
                std::to_string(real.cols()) + ", expected " + std::to_string(n) + "x" +
                std::to_string(bits) + " (one value per code bit)");
  CodeDiagnostics d;
  double squared = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int b = 0; b < bits; ++b) {
      const double gap = real(i, b) - (codes.bit(i, b) ? 1.0 : -1.0);
      squared += gap * gap;
    }
  d.quantization_error = squared / (static_cast<double>(n) * bits);

  const auto columns = bit_columns(codes);
  std::vector<int64_t> set(bits);  // items with the bit set
  double balance = 0;
  for (int b = 0; b < bits; ++b) {
    set[b] = popcount_and(columns[b], columns[b]);
    balance += std::abs(static_cast<double>(set[b]) / n - 0.5);
  }
  d.bit_balance = balance / bits;

  // Pearson correlation of +-1 bits x, y: (E[xy] - E[x]E[y]) / sqrt(Var x Var y), with
  // E[x] = 2p - 1, Var x = 1 - E[x]^2 and E[xy] = 1 - 2 * (fraction where they differ).
  double correlation = 0;
  for (int a = 0; a < bits; ++a)
    for (int b = a + 1; b < bits; ++b) {
      if (set[a] == 0 || set[a] == n || set[b] == 0 || set[b] == n) continue;  // constant
      const double mean_a = 2.0 * set[a] / n - 1, mean_b = 2.0 * set[b] / n - 1;
      const int64_t differ = set[a] + set[b] - 2 * popcount_and(columns[a], columns[b]);
      const double product = 1 - 2.0 * differ / n;
      correlation += std::abs(product - mean_a * mean_b) /
                     std::sqrt((1 - mean_a * mean_a) * (1 - mean_b * mean_b));
    }
  const double pairs = bits * (bits - 1) / 2.0;
  d.bit_correlation = pairs > 0 ? correlation / pairs : 0;
  d.distinct_codes = codes.distinct();
  return d;
}

}  // namespace hamster
