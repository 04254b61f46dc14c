#pragma once
// Shared by re-rankers: reorder a shortlist by new scores (lower is better). The sort is
// stable, so equal scores keep their stage-1 (Hamming, then index) order.
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

}  // namespace hamster
