#pragma once
// Retrieval metrics exactly as docs/protocol.md defines them. Relevance: sharing a label.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/data/dataset.h"
#include "framework/types.h"

namespace hamster {

constexpr int64_t kAll = 0;  // "k = all": the whole database

struct EvalOptions {
  std::vector<int64_t> map_at = {kAll, 1000};  // mAP@k columns
  std::vector<int64_t> precision_at = {100, 1000};
  std::vector<int64_t> recall_at = {1000};
  int hamming_radius = 2;  // P@H<=r
};

// --- one query; rel is 0/1 in rank order, n items ---------------------------------
// AP@k = (1/R_k) sum_{i<=k} rel_i P@i with R_k relevant items in the top k; 0 if R_k = 0.
// For all three, k = kAll or k > n means n (so P@k divides by min(k, n)); k < 0 throws.
double average_precision_at(const uint8_t* rel, int64_t n, int64_t k);
double precision_at(const uint8_t* rel, int64_t n, int64_t k);
// Recall against all relevant items in the database (total_relevant); 0 if none.
double recall_at(const uint8_t* rel, int64_t n, int64_t k, int64_t total_relevant);

// --- one query, Hamming-only metrics; dist and rel in DATABASE order -------------------
// Expected AP@all when items at equal distance are ordered uniformly at random
// (He et al., CVPR 2018, closed form).
double tie_aware_average_precision(const uint16_t* dist, const uint8_t* rel, int64_t n, int bits);
// Precision of the items within `radius`; 0 when none is.
double precision_within_radius(const uint16_t* dist, const uint8_t* rel, int64_t n, int radius);

// --- the whole query set -----------------------------------------------------------------
struct Evaluation {
  std::vector<std::pair<std::string, double>> metrics;  // in column order, e.g. "mAP@all"
  // PR curve of "distance <= r" for r = 0..bits: per-query precision (0 when nothing is
  // retrieved) and recall, averaged over queries.
  std::vector<double> pr_precision, pr_recall;
  double get(const std::string& name) const;  // throws Error naming known metrics
};

// Names of the metric columns evaluate() returns for these options, in order:
// mAP@all, mAP@k..., P@k..., R@k..., tie-mAP, P@H<=r (a cut-off of kAll is named "all").
std::vector<std::string> metric_names(const EvalOptions& opts);

// Query i is ranked by heads[i] (a reordering of its first heads[i].size() items in
// Hamming order, as a re-ranker returns it) followed by the rest of the database in
// stable Hamming order. An empty `heads` means the plain Hamming ranking. Means are over
// ALL queries. TBB-parallel over queries; per-query values are summed in query order, so
// results do not depend on scheduling. Throws Error if a head is not a permutation of its
// Hamming prefix (naming the first such query), if sizes or bit lengths disagree, if
// there are no queries, or if a cut-off or the radius is negative.
Evaluation evaluate(const std::vector<LabelSet>& query_labels,
                    const std::vector<LabelSet>& db_labels, const BinaryCodes& query_codes,
                    const BinaryCodes& db_codes, const std::vector<Shortlist>& heads,
                    const EvalOptions& opts = {});

// The same evaluation split in two, for the runner: everything that depends on the Hamming
// ranking alone (distances, the full ranking, tie-aware mAP, P@H<=r, the PR curve and each
// metric's contribution from beyond the first `head_limit` ranks) is computed once per
// build; score() then evaluates one re-ranker's heads in O(queries x head_limit). A head
// only permutes the Hamming prefix, so the ranking past it, and the relevant count inside
// it, never change: AP@k for k > L is the head's own sum plus a stored tail sum.
class HammingEvaluation {
 public:
  // Throws like evaluate(); also if head_limit < 0 or larger than the database.
  HammingEvaluation(const std::vector<LabelSet>& query_labels,
                    const std::vector<LabelSet>& db_labels, const BinaryCodes& query_codes,
                    const BinaryCodes& db_codes, int64_t head_limit, const EvalOptions& opts = {});

  // The plain Hamming ranking's evaluation (what evaluate() gives with no heads).
  const Evaluation& hamming() const { return hamming_; }
  // What evaluate() gives for these heads (equal up to float summation order), each head
  // at most head_limit ids. Throws Error like evaluate() for a bad head.
  Evaluation score(const std::vector<Shortlist>& heads) const;

 private:
  std::vector<LabelSet> query_labels_, db_labels_;
  EvalOptions opts_;
  int64_t n_ = 0, limit_ = 0;
  size_t cols_ = 0;
  Evaluation hamming_;
  std::vector<double> base_columns_;  // nq x cols: the Hamming ranking's per-query values
  std::vector<int64_t> prefix_;       // nq x limit: the first ranks of each Hamming ranking
  std::vector<int64_t> total_relevant_;
  // nq x map_at.size(): for mAP@k with k > limit, sum over ranks limit..k-1 of rel_i P@i
  // and the relevant count in the top k.
  std::vector<double> tail_sum_;
  std::vector<int64_t> tail_hits_;
};

}  // namespace hamster
