// none: keeps the Hamming order; the baseline every re-ranker is compared against.
#include "framework/reranker.h"

namespace hamster {
namespace {

class NoRerank final : public Reranker {
 public:
  void rerank(const Encoded&, std::vector<Shortlist>&) const override {}
};

const RegisterReranker kRegisterNone("none", "Hamming order (stage 1 only)", {},
                                     [](const Params&) { return std::make_unique<NoRerank>(); });

}  // namespace
}  // namespace hamster
