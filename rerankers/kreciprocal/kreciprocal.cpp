// kreciprocal: k-reciprocal re-ranking (Zhong et al., CVPR 2017), restricted to the
// shortlist and the shared kNN graph (never an N x N matrix).
//
// N(p, k) is p's k nearest others: for a database item, the first k entries of its graph
// row; for the query, its k most cosine-similar shortlist items. R(p, k) = {p} plus every
// g in N(p, k) with p in N(g, k); for the query and a database item g, "q in N(g, k)"
// means cos(q, g) >= the k-th similarity of g's graph row. R*(p) adds R(c, h), h =
// ceil(k1 / 2), for each c in R(p, k1) with |R(c, h) & R(p, k1)| >= 2/3 |R(c, h)|.
// V_p puts exp(-d(p, g)) on each g of R*(p), d = sqrt(2 - 2 cos) (Euclidean distance of unit
// vectors), normalised to sum 1; local query expansion replaces V_p by the mean of V over p
// and its k2 - 1 nearest (the query's from the shortlist ranking). The score is
// (1 - lambda) d_J(q, g) + lambda d(q, g), d_J = 1 - sum min(V_q, V_g) / sum max(V_q, V_g)
// with sum max = 2 - sum min, both V summing to 1.
//
// Large-scale approximation: the query's membership in database items' neighbourhoods is
// neglected on the database side, so every V_g (before and after expansion) is computed
// once, offline, for the whole database and shared as an artefact. The query's own
// neighbourhood is exact: its R(q, k1), its expansion sets and its V_q (which holds the
// query itself with weight exp(0), a component no database V_g can match) follow the paper.
#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "rerankers/qe/expansion.h"

namespace hamster {
namespace {

const KnnGraphOptions kGraph{};  // the graph every graph re-ranker of a build shares

using SparseVector = std::vector<std::pair<int32_t, float>>;  // sorted by id

// Many short rows in one allocation (CSR). `weights` is empty for rows of ids only.
struct SparseRows {
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> ids;
  std::vector<float> weights;

  int64_t begin(int64_t i) const { return offsets[i]; }
  int64_t end(int64_t i) const { return offsets[i + 1]; }
  std::vector<int32_t> id_row(int64_t i) const {
    return {ids.begin() + begin(i), ids.begin() + end(i)};
  }
};

SparseRows pack(const std::vector<std::vector<int32_t>>& rows) {
  SparseRows out;
  for (const auto& row : rows) {
    out.ids.insert(out.ids.end(), row.begin(), row.end());
    out.offsets.push_back(static_cast<int64_t>(out.ids.size()));
  }
  return out;
}

SparseRows pack(const std::vector<SparseVector>& rows) {
  SparseRows out;
  for (const auto& row : rows) {
    for (const auto& [id, w] : row) out.ids.push_back(id), out.weights.push_back(w);
    out.offsets.push_back(static_cast<int64_t>(out.ids.size()));
  }
  return out;
}

// What the offline pass keeps per database item.
struct ReciprocalIndex {
  SparseRows half;  // R(i, h), ids sorted (i included)
  SparseRows v;     // V_i over R*(i)
  SparseRows v_qe;  // V_i after local query expansion
};

bool among_first(const KnnGraph& graph, int64_t row, int64_t id, int k) {
  const int32_t* ids = graph.neighbours(row);
  return std::find(ids, ids + k, id) != ids + k;
}

// R(i, k) of database item i, sorted by id.
std::vector<int32_t> reciprocal(const KnnGraph& graph, int32_t i, int k) {
  std::vector<int32_t> r = {i};
  const int32_t* ids = graph.neighbours(i);
  for (int t = 0; t < k; ++t)
    if (among_first(graph, ids[t], i, k)) r.push_back(ids[t]);
  std::sort(r.begin(), r.end());
  return r;
}

size_t common_count(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t count = 0;
  for (auto i = a.begin(), j = b.begin(); i != a.end() && j != b.end();) {
    if (*i < *j)
      ++i;
    else if (*j < *i)
      ++j;
    else
      ++count, ++i, ++j;
  }
  return count;
}

// The paper's test for adding a candidate's R(c, h) to R*(p): most of it lies in R(p, k1).
bool mostly_inside(size_t common, size_t size) { return 3 * common >= 2 * size; }

void merge_into(std::vector<int32_t>& set, const std::vector<int32_t>& more) {
  std::vector<int32_t> merged;
  merged.reserve(set.size() + more.size());
  std::set_union(set.begin(), set.end(), more.begin(), more.end(), std::back_inserter(merged));
  set = std::move(merged);
}

float distance_weight(float cosine) { return std::exp(-std::sqrt(std::max(0.0f, 2 - 2 * cosine))); }

// exp(-d(p, g)) for each g of `ids` (sorted), p a unit row; not yet normalised.
SparseVector distance_weights(const Eigen::RowVectorXf& p, const Embedding& x,
                              const std::vector<int32_t>& ids) {
  SparseVector v;
  v.reserve(ids.size());
  for (int32_t g : ids) v.emplace_back(g, distance_weight(p.dot(x.row(g))));
  return v;
}

void scale(SparseVector& v, float factor) {
  for (auto& entry : v) entry.second *= factor;
}

float total(const SparseVector& v) {
  float sum = 0;
  for (const auto& entry : v) sum += entry.second;
  return sum;
}

// Sum of sparse vectors, each entry summed in the order the pieces are given.
SparseVector sum_of(SparseVector pieces) {
  std::stable_sort(pieces.begin(), pieces.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  SparseVector out;
  for (const auto& [id, w] : pieces) {
    if (!out.empty() && out.back().first == id)
      out.back().second += w;
    else
      out.emplace_back(id, w);
  }
  return out;
}

void append_row(SparseVector& pieces, const SparseRows& rows, int64_t i) {
  for (int64_t e = rows.begin(i); e < rows.end(i); ++e)
    pieces.emplace_back(rows.ids[e], rows.weights[e]);
}

// V_i of database item i (its own distance is 0, weight 1).
SparseVector database_v(const KnnGraph& graph, const Embedding& x, const SparseRows& half,
                        int32_t i, int k1) {
  const std::vector<int32_t> r = reciprocal(graph, i, k1);
  std::vector<int32_t> expanded = r;
  for (int32_t c : r) {
    if (c == i) continue;  // R(i, h) lies inside R(i, k1)
    const std::vector<int32_t> rc = half.id_row(c);
    if (mostly_inside(common_count(rc, r), rc.size())) merge_into(expanded, rc);
  }
  SparseVector v = distance_weights(x.row(i), x, expanded);
  for (auto& [g, w] : v)
    if (g == i) w = 1;
  scale(v, 1 / total(v));
  return v;
}

template <class Row>
SparseRows rows_in_parallel(int64_t n, Row&& row) {
  std::vector<decltype(row(int32_t{0}))> rows(n);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n), [&](const auto& range) {
    for (int64_t i = range.begin(); i < range.end(); ++i) rows[i] = row(static_cast<int32_t>(i));
  });
  return pack(rows);
}

ReciprocalIndex build_index(const KnnGraph& graph, const Embedding& x, int k1, int half, int k2) {
  if (graph.n != x.rows())
    throw Error("kreciprocal: the graph has " + std::to_string(graph.n) + " items, the database " +
                std::to_string(x.rows()));
  ReciprocalIndex index;
  index.half = rows_in_parallel(graph.n, [&](int32_t i) { return reciprocal(graph, i, half); });
  index.v =
      rows_in_parallel(graph.n, [&](int32_t i) { return database_v(graph, x, index.half, i, k1); });
  index.v_qe = rows_in_parallel(graph.n, [&](int32_t i) {
    SparseVector pieces;
    append_row(pieces, index.v, i);
    for (int t = 0; t < k2 - 1; ++t) append_row(pieces, index.v, graph.neighbours(i)[t]);
    SparseVector mean = sum_of(std::move(pieces));
    scale(mean, 1.0f / k2);
    return mean;
  });
  return index;
}

class KReciprocalRerank final : public Reranker {
 public:
  KReciprocalRerank(std::string embedding, int k1, int k2, float lambda)
      : embedding_(std::move(embedding)), k1_(k1), k2_(k2), half_((k1 + 1) / 2), lambda_(lambda) {}

  void prepare(const RerankContext& ctx) override {
    graph_ = shared_knn_graph(ctx, embedding_, kGraph);
    if (k1_ > graph_->k || k2_ - 1 > graph_->k)
      throw Error("kreciprocal: k1 and k2 - 1 must be <= the shared graph's k (" +
                  std::to_string(graph_->k) + "), got k1 = " + std::to_string(k1_) +
                  ", k2 = " + std::to_string(k2_));
    database_ = shared_normalised(ctx, embedding_);
    // Memory only: the offline pass is a few graph sweeps, cheaper than its own file format.
    const std::string key = "kreciprocal-k1_" + std::to_string(k1_) + "-k2_" + std::to_string(k2_) +
                            "-" + knn_graph_key(ctx, embedding_, kGraph);
    index_ = ctx.artefacts.get<ReciprocalIndex>(
        key, [&] { return build_index(*graph_, *database_, k1_, half_, k2_); });
  }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (!index_) throw Error("kreciprocal: rerank() before prepare()");
    const Embedding q = qe::normalised_queries(query_embedding(queries, embedding_),
                                               database_->cols(), "kreciprocal");
    rerank_each(lists, [&](int64_t i, const Shortlist& list) { return scores(q.row(i), list); });
  }

 private:
  // The query's V after local expansion, its database part only (the query's own entry
  // never meets a database V_g).
  SparseVector query_v(const Eigen::RowVectorXf& q, const Shortlist& list,
                       const std::vector<float>& sims) const {
    const KnnGraph& graph = *graph_;
    const std::vector<int> ranked = qe::top_positions(sims, std::max(k1_, k2_ - 1));
    // R(q, k1), and for each member whether q also lies in R(member, h).
    std::vector<int32_t> r;
    std::vector<std::pair<int32_t, bool>> members;
    for (size_t t = 0; t < ranked.size() && t < static_cast<size_t>(k1_); ++t) {
      const int32_t g = static_cast<int32_t>(list.ids[ranked[t]]);
      const float s = sims[ranked[t]];
      if (s < graph.similarities(g)[k1_ - 1]) continue;
      r.push_back(g);
      members.emplace_back(g,
                           t < static_cast<size_t>(half_) && s >= graph.similarities(g)[half_ - 1]);
    }
    std::sort(r.begin(), r.end());
    std::vector<int32_t> expanded = r;
    for (const auto& [c, query_inside] : members) {
      const std::vector<int32_t> rc = index_->half.id_row(c);
      // q is in R(q, k1); it counts towards both sides when it is in R(c, h) too.
      const size_t extra = query_inside ? 1 : 0;
      if (mostly_inside(common_count(rc, r) + extra, rc.size() + extra)) merge_into(expanded, rc);
    }
    SparseVector v = distance_weights(q, *database_, expanded);
    const float self = 1;  // exp(-d(q, q))
    scale(v, 1 / (self + total(v)));
    // Mean of V over the query and its k2 - 1 nearest shortlist items.
    const size_t neighbours = std::min(ranked.size(), static_cast<size_t>(k2_ - 1));
    for (size_t t = 0; t < neighbours; ++t) append_row(v, index_->v, list.ids[ranked[t]]);
    SparseVector mean = sum_of(std::move(v));
    scale(mean, 1.0f / (1 + neighbours));
    return mean;
  }

  std::vector<float> scores(const Eigen::RowVectorXf& q, const Shortlist& list) const {
    const std::vector<float> sims = qe::shortlist_similarities(q, *database_, list);
    const SparseVector vq = query_v(q, list, sims);
    // V_q spread over a per-thread dense buffer, so each V_g meets it in O(|V_g|).
    std::vector<float>& dense = scratch_.local();
    dense.resize(graph_->n, 0.0f);
    for (const auto& [id, w] : vq) dense[id] = w;
    const SparseRows& vg = index_->v_qe;
    std::vector<float> out(list.ids.size());
    for (size_t i = 0; i < out.size(); ++i) {
      float shared = 0;  // sum of min(V_q, V_g)
      for (int64_t e = vg.begin(list.ids[i]); e < vg.end(list.ids[i]); ++e)
        shared += std::min(dense[vg.ids[e]], vg.weights[e]);
      const float jaccard = 1 - shared / (2 - shared);
      const float distance = std::sqrt(std::max(0.0f, 2 - 2 * sims[i]));
      out[i] = (1 - lambda_) * jaccard + lambda_ * distance;
    }
    for (const auto& entry : vq) dense[entry.first] = 0;
    return out;
  }

  std::string embedding_;
  int k1_, k2_, half_;
  float lambda_;
  std::shared_ptr<const KnnGraph> graph_;
  std::shared_ptr<const Embedding> database_;
  std::shared_ptr<const ReciprocalIndex> index_;
  mutable tbb::enumerable_thread_specific<std::vector<float>> scratch_;
};

const RegisterReranker kRegisterKReciprocal(
    "kreciprocal",
    "k-reciprocal re-ranking: Jaccard distance of k-reciprocal neighbourhoods, blended with "
    "the original distance",
    {{"k1", "20", "reciprocal neighbourhood size (<= the shared graph's 50)"},
     {"k2", "6", "local query expansion size, the item itself included (<= 50)"},
     {"lambda", "0.3", "weight of the original distance, in [0, 1] (1 = plain cosine order)"},
     qe::embedding_spec()},
    [](const Params& p) {
      const int k1 = p.get_int("k1"), k2 = p.get_int("k2");
      if (k1 < 1 || k1 > kGraph.k)
        throw Error("kreciprocal: k1 must be in [1, " + std::to_string(kGraph.k) +
                    "] (the shared graph's k), got " + std::to_string(k1));
      if (k2 < 1 || k2 > kGraph.k)
        throw Error("kreciprocal: k2 must be in [1, " + std::to_string(kGraph.k) + "], got " +
                    std::to_string(k2));
      const double lambda = p.get_double("lambda");
      if (lambda < 0 || lambda > 1)
        throw Error("kreciprocal: lambda must be in [0, 1], got " + p.get_string("lambda"));
      return std::make_unique<KReciprocalRerank>(qe::embedding_param(p, "kreciprocal"), k1, k2,
                                                 static_cast<float>(lambda));
    });

}  // namespace
}  // namespace hamster
