// asymmetric: the query keeps its real-valued hash output q, the database keeps its codes
// s in {-1, +1}; score = -q.s. Equivalent to a Hamming distance in which each bit weighs
// |q_b|, so confident query bits count more (asymmetric distance, as in AQD/ADSH).
#include "framework/error.h"
#include "framework/reranker.h"
#include "rerankers/score_sort.h"

namespace hamster {
namespace {

class AsymmetricRerank final : public Reranker {
 public:
  void prepare(const RerankContext& ctx) override { codes_ = ctx.database.codes; }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (queries.real.cols() != codes_.bits())
      throw Error("asymmetric re-ranker: queries have " + std::to_string(queries.real.cols()) +
                  " real outputs, database codes " + std::to_string(codes_.bits()) +
                  " bits (was prepare() called?)");
    rerank_each(lists, [&](int64_t q, const Shortlist& list) {
      const float* query = queries.real.row(q).data();
      float total = 0;  // q.s = 2 * sum_{bits set} q_b - sum_b q_b
      for (int b = 0; b < codes_.bits(); ++b) total += query[b];
      std::vector<float> scores(list.ids.size());
      for (size_t i = 0; i < scores.size(); ++i) {
        float set = 0;
        const int64_t id = list.ids[i];
        for (int b = 0; b < codes_.bits(); ++b)
          if (codes_.bit(id, b)) set += query[b];
        scores[i] = -(2 * set - total);
      }
      return scores;
    });
  }

 private:
  BinaryCodes codes_;
};

const RegisterReranker kRegisterAsymmetric(
    "asymmetric", "query's real-valued output against database codes (bit-weighted Hamming)", {},
    [](const Params&) { return std::make_unique<AsymmetricRerank>(); });

}  // namespace
}  // namespace hamster
