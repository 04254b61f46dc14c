#pragma once
// What the re-rankers defined on a set of probes and gallery items share (kreciprocal,
// gnn): Zhong et al. and Zhang et al. re-rank a gallery using the neighbourhoods of every
// item in it. In hamster's two stages that set, the query's universe, is the query itself
// (member 0) and the L items of its shortlist (members 1..L). Each query is re-ranked alone,
// as a retrieval system sees queries one at a time; the papers also let the other queries of
// a test set be neighbours, which a deployed system cannot.
//
// Cost per query: the (L + 1)^2 cosines (one BLAS ssyrk) and each member's nearest
// members; memory a few (L + 1)^2 float matrices per thread.
#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "framework/graph/gram.h"
#include "framework/types.h"
#include "rerankers/qe/expansion.h"

namespace hamster::universe {

using Matrix = RowMatrix;

// The matrices one thread reuses from query to query: a fresh (L + 1)^2 allocation per
// query costs more in page faults than some of the arithmetic.
struct Workspace {
  Matrix x;     // the members' unit rows
  Matrix s;     // their cosines
  Matrix a, b;  // for the method's own use
};

// cos between every two members of {q} and the shortlist (unit rows in, so the product is
// the cosine), into w.s. Exactly symmetric with an exact 1 on the diagonal, so that no
// rounding decides whether a member is its own nearest.
inline const Matrix& similarities(const Eigen::RowVectorXf& q, const Embedding& database,
                                  const Shortlist& list, Workspace& w) {
  const int64_t n = static_cast<int64_t>(list.ids.size()) + 1;
  w.x.resize(n, database.cols());
  w.x.row(0) = q;
  for (int64_t i = 1; i < n; ++i) w.x.row(i) = database.row(list.ids[i - 1]);
  gram(w.x, w.s);
  w.s.diagonal().setOnes();
  return w.s;
}

// a <- a + a^T in place, in tiles so that both the rows and the columns a tile touches stay
// in cache (a plain transpose of a 4 MB matrix misses on every column element).
inline void add_transpose(Matrix& a) {
  constexpr int64_t kTile = 32;
  const int64_t n = a.rows();
  for (int64_t ib = 0; ib < n; ib += kTile)
    for (int64_t jb = 0; jb <= ib; jb += kTile)
      for (int64_t i = ib; i < std::min(ib + kTile, n); ++i)
        for (int64_t j = jb; j < std::min(jb + kTile, i + 1); ++j) {
          const float sum = a(i, j) + a(j, i);
          a(i, j) = sum;
          a(j, i) = sum;
        }
}

// Each member's min(depth, n) most similar members, best first, itself included (normally
// first); equal similarities rank the smaller index first. Row i of the result starts at
// i * width(); width() = min(depth, n).
class NearestMembers {
 public:
  NearestMembers(const Matrix& s, int depth)
      : width_(static_cast<int>(std::min<int64_t>(depth, s.rows()))), ids_(s.rows() * width_) {
    const int64_t n = s.rows();
    std::vector<std::pair<float, int32_t>> top;  // best first
    for (int64_t i = 0; i < n; ++i) {
      // One pass keeping the best width_ so far in order: most members fail the first
      // comparison, so this beats any full sort or selection over n.
      const float* row = s.row(i).data();
      top.clear();
      for (int32_t j = 0; j < n; ++j) {
        if (static_cast<int>(top.size()) == width_) {
          if (row[j] <= top.back().first) continue;  // a tie goes to the smaller index
          top.pop_back();
        }
        auto at = top.end();
        while (at != top.begin() && (at - 1)->first < row[j]) --at;
        top.insert(at, {row[j], j});
      }
      for (int t = 0; t < width_; ++t) ids_[i * width_ + t] = top[t].second;
    }
  }

  int width() const { return width_; }
  const int32_t* row(int64_t i) const { return ids_.data() + i * width_; }

  // Whether j is among i's first `count` nearest (count <= width()).
  bool among_first(int64_t i, int32_t j, int count) const {
    const int32_t* r = row(i);
    return std::find(r, r + count, j) != r + count;
  }

 private:
  int width_;
  std::vector<int32_t> ids_;
};

// A re-ranker defined on the universe: prepare() keeps the unit database rows of its
// embedding; rerank() builds each query's universe (its cosines in w.s) and asks scores()
// for one score per shortlist item, lower better. A subclass writes only scores().
class UniverseRerank : public Reranker {
 public:
  UniverseRerank(std::string plugin, std::string embedding)
      : plugin_(std::move(plugin)), embedding_(std::move(embedding)) {}

  void prepare(const RerankContext& ctx) override {
    database_ = shared_normalised(ctx, embedding_);
  }
  std::vector<std::string> artefacts() const override { return normalised_artefacts(embedding_); }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (!database_) throw Error(plugin_ + ": rerank() before prepare()");
    const Embedding q =
        qe::normalised_queries(query_embedding(queries, embedding_), database_->cols(), plugin_);
    rerank_each(lists, [&](int64_t i, const Shortlist& list) {
      if (list.ids.empty()) return std::vector<float>{};
      Workspace& w = workspace_.local();
      similarities(q.row(i), *database_, list, w);
      return scores(w);
    });
  }

 protected:
  // Scores of members 1..L against member 0 (the query), from w.s; w.a and w.b are free.
  virtual std::vector<float> scores(Workspace& w) const = 0;

 private:
  std::string plugin_;
  std::string embedding_;
  std::shared_ptr<const Embedding> database_;
  mutable tbb::enumerable_thread_specific<Workspace> workspace_;
};

}  // namespace hamster::universe
