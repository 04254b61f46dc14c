#include <doctest/doctest.h>

#include <cmath>

#include "framework/codes/diagnostics.h"
#include "framework/data/split.h"
#include "framework/error.h"

using namespace hamster;

namespace {

Encoded from_real(const Embedding& real) {
  Encoded e;
  e.real = real;
  e.codes = BinaryCodes::from_signs(real.data(), real.rows(), static_cast<int>(real.cols()));
  return e;
}

}  // namespace

TEST_CASE("code diagnostics of four 3-bit codes worked by hand") {
  Embedding real(4, 3);
  real << 0.5f, -1.0f, 2.0f,  //  + - +
      -0.5f, -0.2f, 1.0f,     //  - - +
      1.0f, 0.3f, 0.1f,       //  + + +
      -2.0f, -0.7f, 0.5f;     //  - - +  (the same code as item 1)
  const Encoded e = from_real(real);
  const CodeDiagnostics d = code_diagnostics(e.codes, e.real);
  // ||u - b||^2 per item: 0.25+0+1 = 1.25, 0.25+0.64+0 = 0.89, 0+0.49+0.81 = 1.30,
  // 1+0.09+0.25 = 1.34; sum 4.78 over 4 items and 3 bits.
  CHECK(d.quantization_error == doctest::Approx(4.78 / 12).epsilon(1e-6));
  // Fractions of +1 per bit: 2/4, 1/4, 4/4: |0|, |-0.25|, |0.5|, mean 0.25.
  CHECK(d.bit_balance == doctest::Approx(0.25));
  // Bits 0 and 1: x = (+,-,+,-), y = (-,-,+,-); E[x] = 0, E[y] = -1/2, E[xy] = 1/2;
  // r = (1/2 - 0) / sqrt(1 * 3/4) = 0.57735. Bit 2 is constant: its two pairs count 0.
  CHECK(d.bit_correlation == doctest::Approx(0.5 / std::sqrt(0.75) / 3).epsilon(1e-9));
  CHECK(d.distinct_codes == 3);
}

TEST_CASE("code diagnostics: opposite bits correlate by 1 in absolute value - balanced bits 0") {
  Embedding real(4, 2);
  real << 1, -1, -1, 1, 1, -1, -1, 1;  // bit 1 = not bit 0; both split the items in half
  const Encoded e = from_real(real);
  const CodeDiagnostics d = code_diagnostics(e.codes, e.real);
  CHECK(d.quantization_error == 0);  // already +-1
  CHECK(d.bit_balance == 0);
  CHECK(d.bit_correlation == doctest::Approx(1.0));
  CHECK(d.distinct_codes == 2);
}

TEST_CASE("code diagnostics: correlations across 64-bit word boundaries match a direct count") {
  // 130 items and 70 bits: item and bit columns both span more than one 64-bit word.
  const int n = 130, bits = 70;
  Rng rng(5);
  Embedding real(n, bits);
  for (int i = 0; i < n; ++i)
    for (int b = 0; b < bits; ++b)
      real(i, b) = static_cast<float>(rng.normal() + (b % 3 == 0 ? 0.8 : 0.0));
  for (int i = 0; i < n; ++i) real(i, 69) = -real(i, 1);  // one exactly anti-correlated pair
  const Encoded e = from_real(real);
  double sum = 0, balance = 0;
  for (int a = 0; a < bits; ++a) {
    auto x = [&](int i, int b) { return e.codes.bit(i, b) ? 1.0 : -1.0; };
    double ma = 0;
    for (int i = 0; i < n; ++i) ma += x(i, a) / n;
    balance += std::abs((ma + 1) / 2 - 0.5);
    for (int b = a + 1; b < bits; ++b) {
      double mb = 0, cov = 0, va = 0, vb = 0;
      for (int i = 0; i < n; ++i) mb += x(i, b) / n;
      for (int i = 0; i < n; ++i) {
        cov += (x(i, a) - ma) * (x(i, b) - mb);
        va += (x(i, a) - ma) * (x(i, a) - ma);
        vb += (x(i, b) - mb) * (x(i, b) - mb);
      }
      sum += va > 0 && vb > 0 ? std::abs(cov) / std::sqrt(va * vb) : 0;
    }
  }
  const CodeDiagnostics d = code_diagnostics(e.codes, e.real);
  CHECK(d.bit_correlation == doctest::Approx(sum / (bits * (bits - 1) / 2)).epsilon(1e-9));
  CHECK(d.bit_balance == doctest::Approx(balance / bits).epsilon(1e-9));
  CHECK(d.bit_correlation > 1.0 / (bits * (bits - 1) / 2));  // the anti-correlated pair alone
}

TEST_CASE("code diagnostics refuse a real output that does not match the codes") {
  const Encoded e = from_real(Embedding::Ones(3, 4));
  CHECK_THROWS_WITH_AS(code_diagnostics(e.codes, Embedding::Ones(3, 5)),
                       "code diagnostics: real output is 3x5, expected 3x4 (one value per code "
                       "bit)",
                       Error);
  CHECK_THROWS_WITH_AS(code_diagnostics(BinaryCodes(0, 4), Embedding()),
                       "code diagnostics: no codes", Error);
}
