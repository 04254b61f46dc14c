#pragma once
// The query side of diffusion and spectral ranking (Iscen et al., CVPR 2017 and 2018). The
// query is not a node of the database graph, so it enters as a seed vector y over its kq
// nearest database items: y_j = max(0, cos(q, x_j))^gamma. Spectral takes those neighbours
// from the query's shortlist (L x D work, no search over the database): the kq most
// cosine-similar shortlist items; diffusion searches the whole database (graph_search.h).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/graph/shared.h"
#include "framework/types.h"
#include "rerankers/score_sort.h"

namespace hamster {

struct Seed {
  int64_t position;  // in the shortlist
  float weight;      // max(0, cos)^gamma > 0
};

// The query row scaled to unit norm (a zero row stays zero). Throws Error naming both sizes
// when its dimension differs from the database's.
inline Eigen::RowVectorXf normalised_query(const Embedding& queries, int64_t q,
                                           const Embedding& database, const std::string& owner) {
  if (queries.cols() != database.cols())
    throw Error(owner + ": queries have " + std::to_string(queries.cols()) +
                " dimensions, the database " + std::to_string(database.cols()) +
                " (was prepare() called?)");
  Eigen::RowVectorXf query = queries.row(q);
  const float norm = query.norm();
  if (norm > 0) query /= norm;
  return query;
}

// Cosine similarity of the (unit) query to each shortlist item of the (row-normalised)
// database. Throws Error naming an id outside the database.
inline std::vector<float> shortlist_similarities(const Eigen::RowVectorXf& query,
                                                 const Embedding& database, const Shortlist& list,
                                                 const std::string& owner) {
  std::vector<float> sims(list.ids.size());
  for (size_t i = 0; i < sims.size(); ++i) {
    const int64_t id = list.ids[i];
    if (id < 0 || id >= database.rows())
      throw Error(owner + ": shortlist id " + std::to_string(id) + " is outside the database of " +
                  std::to_string(database.rows()) + " items");
    sims[i] = query.dot(database.row(id));
  }
  return sims;
}

// The kq most similar positions (ties: the earlier shortlist position first) with weight
// max(0, s)^gamma; seeds of zero weight are left out, so an empty result means y = 0.
inline std::vector<Seed> query_seeds(const std::vector<float>& sims, int kq, float gamma) {
  // A NaN similarity (a NaN query) sorts last instead of breaking the ordering.
  const auto key = [&](int64_t i) { return std::isnan(sims[i]) ? -INFINITY : sims[i]; };
  std::vector<int64_t> order(sims.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t top = std::min(order.size(), static_cast<size_t>(kq));
  std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](int64_t a, int64_t b) {
    return key(a) > key(b) || (key(a) == key(b) && a < b);
  });
  std::vector<Seed> seeds;
  for (size_t i = 0; i < top; ++i) {
    const float weight = std::pow(std::max(0.0f, sims[order[i]]), gamma);
    if (weight > 0) seeds.push_back({order[i], weight});
  }
  return seeds;
}

// Re-ranks every shortlist by score(i, query, sims, list): query i's `embedding` row (unit
// norm) and its cosine similarities to its shortlist items in the row-normalised database.
// Errors name `owner`.
template <class ScoreFn>
void rerank_by_similarities(const Encoded& queries, std::vector<Shortlist>& lists,
                            const std::string& embedding, const Embedding& database,
                            const std::string& owner, ScoreFn&& score) {
  const Embedding& q = query_embedding(queries, embedding);
  rerank_each(lists, [&](int64_t i, const Shortlist& list) {
    const Eigen::RowVectorXf query = normalised_query(q, i, database, owner);
    return score(i, query, shortlist_similarities(query, database, list, owner), list);
  });
}

// Text of a parameter value for error messages and artefact keys ("0.99", "1.5").
inline std::string number_text(double value) {
  std::ostringstream out;
  out.precision(9);
  out << value;
  return out.str();
}

}  // namespace hamster
