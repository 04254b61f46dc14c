// aqe: average query expansion (Chum et al., ICCV 2007). The query's n most cosine-similar
// shortlist items are added to it, q' = normalise(q + sum_i x_i), and the shortlist is
// rescored by -cos(q', x). n larger than the shortlist is clipped to it.
#include "rerankers/qe/expansion.h"

namespace hamster {
namespace {

const RegisterReranker kRegisterAqe(
    "aqe", "average query expansion: cosine to the query plus its top-n shortlist items",
    {{"n", "5", "shortlist items averaged into the query (clipped to the shortlist)"},
     qe::embedding_spec()},
    [](const Params& p) {
      const int n = p.get_int("n");
      if (n < 1) throw Error("aqe: n must be >= 1, got " + std::to_string(n));
      // Average expansion is alpha-weighted expansion with every weight 1 (alpha = 0).
      return std::make_unique<qe::ExpansionRerank>("aqe", qe::embedding_param(p, "aqe"), n, 0.0f);
    });

}  // namespace
}  // namespace hamster
