// alpha_qe: alpha-weighted query expansion (Radenovic et al., TPAMI 2018).
// q' = normalise(q + sum over the n most cosine-similar shortlist items of
// max(0, cos(q, x_i))^alpha x_i); the shortlist is rescored by -cos(q', x). A large alpha
// trusts only the closest neighbours; alpha = 0 weighs each neighbour 1 and is exactly aqe.
#include "rerankers/qe/expansion.h"

namespace hamster {
namespace {

const RegisterReranker kRegisterAlphaQe(
    "alpha_qe", "alpha-weighted query expansion over the top-n shortlist items",
    {{"n", "5", "shortlist items added to the query (clipped to the shortlist)"},
     {"alpha", "3", "similarity exponent of each item's weight (>= 0; 0 = aqe)"},
     qe::embedding_spec()},
    [](const Params& p) {
      const int n = p.get_int("n");
      if (n < 1) throw Error("alpha_qe: n must be >= 1, got " + std::to_string(n));
      const double alpha = p.get_double("alpha");
      if (alpha < 0) throw Error("alpha_qe: alpha must be >= 0, got " + p.get_string("alpha"));
      return std::make_unique<qe::ExpansionRerank>("alpha_qe", qe::embedding_param(p, "alpha_qe"),
                                                   n, static_cast<float>(alpha));
    });

}  // namespace
}  // namespace hamster
