#pragma once
// What the query-expansion re-rankers (aqe, alpha_qe, dba, kreciprocal) share: their
// `embedding` parameter, unit-norm query rows checked against the database, cosine over a
// shortlist, its best positions, and the alpha-weighted expanded query
// (Radenovic et al., TPAMI 2018), of which average query expansion is the alpha = 0 case.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/graph/knn_graph.h"
#include "framework/graph/shared.h"
#include "framework/params.h"
#include "framework/reranker.h"
#include "framework/types.h"
#include "rerankers/score_sort.h"

namespace hamster::qe {

// The `embedding` parameter, rejected here (naming the plugin) rather than at prepare().
inline std::string embedding_param(const Params& params, const std::string& plugin) {
  const std::string which = params.get_string("embedding");
  if (which != "feature" && which != "real")
    throw Error(plugin + ": embedding must be 'feature' or 'real', got '" + which + "'");
  return which;
}

inline ParamSpec embedding_spec() {
  return {"embedding", "feature", "feature (the deep feature) or real (the hash layer's output)"};
}

// A parameter as it appears in an artefact key: the shortest text that reads back the same
// float (the value the artefact was built with).
inline std::string key_number(float v) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, v).ptr;
  return std::string(text, end);
}

// The queries' rows of the embedding the database side was built from, unit norm.
inline Embedding normalised_queries(const Embedding& raw, int64_t database_dim,
                                    const std::string& plugin) {
  if (raw.cols() != database_dim)
    throw Error(plugin + ": queries have " + std::to_string(raw.cols()) + " dimensions, database " +
                std::to_string(database_dim) + " (was prepare() called?)");
  return l2_normalised(raw);
}

// Asks for a database row ahead of use: shortlist rows are scattered over a database far
// larger than the cache, and gathering them is most of a query's time.
inline void prefetch_row(const Embedding& database, int64_t id) {
  const char* row = reinterpret_cast<const char*>(database.row(id).data());
  const size_t bytes = database.cols() * sizeof(float);
  for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(row + b);
}

// cos(q, x_i) for each shortlist item (q and the database rows unit norm).
inline std::vector<float> shortlist_similarities(const Eigen::RowVectorXf& q,
                                                 const Embedding& database, const Shortlist& list) {
  constexpr size_t kAhead = 2;
  std::vector<float> sims(list.ids.size());
  for (size_t i = 0; i < sims.size(); ++i) {
    if (i + kAhead < sims.size()) prefetch_row(database, list.ids[i + kAhead]);
    sims[i] = q.dot(database.row(list.ids[i]));
  }
  return sims;
}

// Positions of the min(n, size) largest similarities, best first; equal similarities keep
// shortlist order, so the choice never depends on anything but the inputs.
inline std::vector<int> top_positions(const std::vector<float>& sims, int n) {
  std::vector<int> order(sims.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t m = std::min(order.size(), static_cast<size_t>(std::max(n, 0)));
  std::partial_sort(order.begin(), order.begin() + m, order.end(), [&](int a, int b) {
    return sims[a] > sims[b] || (sims[a] == sims[b] && a < b);
  });
  order.resize(m);
  return order;
}

// max(0, s)^alpha, except that alpha = 0 weighs every neighbour 1 (average expansion),
// whatever the sign of s: 0^0 is not left to pow.
inline float expansion_weight(float s, float alpha) {
  if (alpha == 0) return 1;
  return s > 0 ? std::pow(s, alpha) : 0.0f;
}

// q' = normalise(q + sum over the n most similar shortlist items of w(cos(q, x_i)) x_i),
// summed best first. `sims` are cos(q, x_i) for the shortlist.
inline Eigen::RowVectorXf expanded_query(const Eigen::RowVectorXf& q, const Embedding& database,
                                         const Shortlist& list, const std::vector<float>& sims,
                                         int n, float alpha) {
  Eigen::RowVectorXf expanded = q;
  for (int i : top_positions(sims, n))
    expanded += expansion_weight(sims[i], alpha) * database.row(list.ids[i]);
  const float norm = expanded.norm();
  if (norm > 0) expanded /= norm;
  return expanded;
}

// Scores -cos(q, x_i), lower is better.
inline std::vector<float> negative_cosines(const Eigen::RowVectorXf& q, const Embedding& database,
                                           const Shortlist& list) {
  std::vector<float> scores = shortlist_similarities(q, database, list);
  for (float& s : scores) s = -s;
  return scores;
}

// Scores each shortlist by -cos(q', x) over a database of unit rows, q' the query expanded
// with its n best shortlist items (n = 0: q itself). aqe and alpha_qe use the normalised
// embedding; dba substitutes its augmented database.
class ExpansionRerank : public Reranker {
 public:
  ExpansionRerank(std::string plugin, std::string embedding, int n, float alpha)
      : plugin_(std::move(plugin)), embedding_(std::move(embedding)), n_(n), alpha_(alpha) {}

  void prepare(const RerankContext& ctx) override { database_ = expansion_database(ctx); }
  std::vector<std::string> artefacts() const override { return normalised_artefacts(embedding_); }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (!database_) throw Error(plugin_ + ": rerank() before prepare()");
    const Embedding q =
        normalised_queries(query_embedding(queries, embedding_), database_->cols(), plugin_);
    const Embedding& db = *database_;
    rerank_each(lists, [&](int64_t i, const Shortlist& list) {
      if (n_ == 0) return negative_cosines(q.row(i), db, list);
      const std::vector<float> sims = shortlist_similarities(q.row(i), db, list);
      return negative_cosines(expanded_query(q.row(i), db, list, sims, n_, alpha_), db, list);
    });
  }

 protected:
  virtual std::shared_ptr<const Embedding> expansion_database(const RerankContext& ctx) {
    return shared_normalised(ctx, embedding_);
  }
  const std::string& plugin() const { return plugin_; }
  const std::string& embedding() const { return embedding_; }

 private:
  std::string plugin_;
  std::string embedding_;
  int n_;
  float alpha_;
  std::shared_ptr<const Embedding> database_;
};

}  // namespace hamster::qe
