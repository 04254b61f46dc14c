#pragma once
// Shared by re-rankers: score every query's shortlist in parallel and reorder it, so a new
// re-ranker writes only its scoring. Lower scores are better; the sort is stable, so equal
// scores keep their stage-1 (Hamming, then index) order.
#include <tbb/parallel_for.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "framework/types.h"

namespace hamster {

inline void sort_by_scores(Shortlist& list, std::vector<float> scores) {
  std::vector<int64_t> order(list.ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[a] < scores[b]; });
  Shortlist sorted;
  sorted.ids.reserve(order.size());
  sorted.scores.reserve(order.size());
  for (int64_t i : order) {
    sorted.ids.push_back(list.ids[i]);
    sorted.scores.push_back(scores[i]);
  }
  list = std::move(sorted);
}

// score(q, list) returns one score per item of `list` (query q's shortlist). Queries run
// in parallel (TBB); each is independent, so results do not depend on the thread count.
template <class ScoreFn>
void rerank_each(std::vector<Shortlist>& lists, ScoreFn&& score) {
  tbb::parallel_for(size_t(0), lists.size(), [&](size_t q) {
    std::vector<float> scores = score(static_cast<int64_t>(q), lists[q]);
    sort_by_scores(lists[q], std::move(scores));
  });
}

}  // namespace hamster
