// feature: cosine similarity of the deep features over the shortlist. The codes found the
// neighbourhood; the 500-d feature, which binarisation never saw, orders it.
#include "framework/error.h"
#include "framework/reranker.h"
#include "rerankers/score_sort.h"

namespace hamster {
namespace {

Embedding normalised_rows(const Embedding& m) {
  Embedding out = m;
  for (int64_t i = 0; i < out.rows(); ++i) {
    const float norm = out.row(i).norm();
    if (norm > 0) out.row(i) /= norm;
  }
  return out;
}

class FeatureRerank final : public Reranker {
 public:
  void prepare(const RerankContext& ctx) override {
    const Encoded& db = ctx.database;
    if (db.features.rows() != db.codes.size())
      throw Error("feature re-ranker: the hasher gave no deep features for the database");
    database_ = normalised_rows(db.features);
  }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (queries.features.cols() != database_.cols())
      throw Error("feature re-ranker: query features have " +
                  std::to_string(queries.features.cols()) + " dimensions, database " +
                  std::to_string(database_.cols()) + " (was prepare() called?)");
    rerank_each(lists, [&](int64_t q, const Shortlist& list) {
      Eigen::RowVectorXf query = queries.features.row(q);
      if (query.norm() > 0) query /= query.norm();
      std::vector<float> scores(list.ids.size());
      dot_rows(database_, query, list.ids, scores.data());
      for (float& s : scores) s = -s;
      return scores;
    });
  }

 private:
  Embedding database_;
};

const RegisterReranker kRegisterFeature(
    "feature", "cosine similarity of the hasher's deep feature over the shortlist", {},
    [](const Params&) { return std::make_unique<FeatureRerank>(); });

}  // namespace
}  // namespace hamster
