#pragma once
// How good a set of codes is as codes, apart from retrieval: what is lost to the sign,
// and how much of the code space the bits use. Recorded for every build, computed over
// the database's encoding.
#include <cstdint>

#include "framework/types.h"

namespace hamster {

struct CodeDiagnostics {
  // Mean over items of ||u - b||^2 / bits, u the hash layer's real output and b the code
  // as +-1 (b = sign(u), with sign(0) = -1 as BinaryCodes::from_signs).
  double quantization_error = 0;
  // Mean over bits of |fraction of items with the bit set - 1/2|: 0 when every bit splits
  // the items in half, 0.5 when every bit is constant.
  double bit_balance = 0;
  // Mean over pairs of bits of |Pearson correlation| of the bits as +-1; a pair with a
  // constant bit counts 0 (its correlation is undefined); 0 for one-bit codes.
  double bit_correlation = 0;
  int64_t distinct_codes = 0;
};

// Throws Error if there are no items, or `real` is not codes.size() x codes.bits().
CodeDiagnostics code_diagnostics(const BinaryCodes& codes, const Embedding& real);

}  // namespace hamster
