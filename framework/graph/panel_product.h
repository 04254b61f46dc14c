#pragma once
// Products of a large sparse S with a block of vectors, for the subspace eigensolver
// (subspace.cpp): S times b vectors, and the Chebyshev filter T_d((S - c) / e) of each.
// Vectors go through S a panel of kPanel at a time, gathered as n x kPanel rows: a vector at
// a time would stream S once per vector; a whole block at a time would scatter its reads
// over the block's n x b floats.
#include <cstdint>
#include <vector>

#include "framework/graph/gram.h"
#include "framework/graph/solvers.h"

namespace hamster {

// S in compressed rows with 32-bit column indices. The products stream S once per panel
// and step, and its 8 bytes per entry (Eigen's int64 indices take 12) are most of their
// memory traffic. S's rows should be ordered for locality (reverse Cuthill-McKee) so that
// a row's neighbours' panel rows are mostly in cache.
struct CompactRows {
  std::vector<int64_t> outer;
  std::vector<int32_t> inner;
  std::vector<float> value;
  int64_t n = 0;
};

CompactRows compact(const SparseMatrix& s);

// out = (S in^T)^T: each of in's rows (a vector of length n) multiplied by S.
void multiply(const CompactRows& s, const RowMatrix& in, RowMatrix& out);

// Each of x's rows replaced by T_d((S - c) / e) applied to it, with c and e mapping
// [lo, cut] onto [-1, 1]: S's eigenvalues in [lo, cut] are kept within [-1, 1], those above
// grow like cosh(d acosh x). Each row is rescaled on the way (the recurrence is linear in
// it), so the result is that polynomial's image up to a positive factor per row.
void chebyshev_filter(const CompactRows& s, RowMatrix& x, int degree, double lo, double cut);

}  // namespace hamster
