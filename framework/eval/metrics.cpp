#include "framework/eval/metrics.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <limits>

#include "framework/codes/hamming_search.h"
#include "framework/error.h"

namespace hamster {

namespace {

// "k = all" and k past the end both mean the whole list.
int64_t cutoff(int64_t n, int64_t k, const char* what) {
  if (k < 0)
    throw Error(std::string(what) + ": k must be >= 0 (0 = all), got " + std::to_string(k));
  return (k == kAll || k > n) ? n : k;
}

int64_t count_relevant(const uint8_t* rel, int64_t k) {
  int64_t hits = 0;
  for (int64_t i = 0; i < k; ++i) hits += rel[i];
  return hits;
}

// Items and relevant items at each Hamming distance 0..bits. Every distance-based metric
// of one query (tie-aware AP, P@H<=r, the PR curve) is a function of these counts alone.
struct DistanceHistogram {
  std::vector<int64_t> items, relevant;
};

DistanceHistogram histogram(const uint16_t* dist, const uint8_t* rel, int64_t n, int bits) {
  if (bits < 0) throw Error("distance histogram: bits must be >= 0, got " + std::to_string(bits));
  DistanceHistogram h{std::vector<int64_t>(bits + 1, 0), std::vector<int64_t>(bits + 1, 0)};
  for (int64_t j = 0; j < n; ++j) {
    if (dist[j] > bits)
      throw Error("distance histogram: item " + std::to_string(j) + " has distance " +
                  std::to_string(dist[j]) + " > bits = " + std::to_string(bits));
    ++h.items[dist[j]];
    h.relevant[dist[j]] += rel[j];
  }
  return h;
}

// He et al. (CVPR 2018), eq. for AP under uniformly random order within each tie group.
// The group at distance d occupies ranks N_{<d}+1 .. N_{<d}+n_d. Rank N_{<d}+i is relevant
// with probability r_d/n_d; given that, the i-1 ranks before it in the group hold the
// other r_d-1 relevant items hypergeometrically, (i-1)(r_d-1)/(n_d-1) on average. AP@all
// is linear in these indicators (its normaliser R is fixed), so the expectation is
//   (1/R) sum_d (r_d/n_d) sum_i [R_{<d} + 1 + (i-1)(r_d-1)/(n_d-1)] / (N_{<d} + i).
double tie_aware_ap(const DistanceHistogram& h) {
  int64_t total_relevant = 0;
  for (int64_t r : h.relevant) total_relevant += r;
  if (total_relevant == 0) return 0.0;

  double sum = 0.0;
  int64_t items_before = 0, relevant_before = 0;
  for (size_t d = 0; d < h.items.size(); ++d) {
    const int64_t n_d = h.items[d], r_d = h.relevant[d];
    if (r_d > 0) {
      const double slope =
          n_d > 1 ? static_cast<double>(r_d - 1) / static_cast<double>(n_d - 1) : 0.0;
      double group = 0.0;
      for (int64_t i = 1; i <= n_d; ++i)
        group += (static_cast<double>(relevant_before + 1) + static_cast<double>(i - 1) * slope) /
                 static_cast<double>(items_before + i);
      sum += group * static_cast<double>(r_d) / static_cast<double>(n_d);
    }
    items_before += n_d;
    relevant_before += r_d;
  }
  return sum / static_cast<double>(total_relevant);
}

std::string k_label(int64_t k) { return k == kAll ? "all" : std::to_string(k); }

void check_options(const EvalOptions& opts) {
  for (const auto* list : {&opts.map_at, &opts.precision_at, &opts.recall_at})
    for (int64_t k : *list)
      if (k < 0)
        throw Error("evaluate: metric cut-offs must be >= 0 (0 = all), got " + std::to_string(k));
  if (opts.hamming_radius < 0)
    throw Error("evaluate: hamming_radius must be >= 0, got " +
                std::to_string(opts.hamming_radius));
}

void check_inputs(const std::vector<LabelSet>& query_labels, const std::vector<LabelSet>& db_labels,
                  const BinaryCodes& query_codes, const BinaryCodes& db_codes,
                  const std::vector<Shortlist>& heads) {
  const auto nq = static_cast<int64_t>(query_labels.size());
  const auto n = static_cast<int64_t>(db_labels.size());
  if (nq != query_codes.size())
    throw Error("evaluate: " + std::to_string(nq) + " query labels but " +
                std::to_string(query_codes.size()) + " query codes");
  if (n != db_codes.size())
    throw Error("evaluate: " + std::to_string(n) + " database labels but " +
                std::to_string(db_codes.size()) + " database codes");
  if (query_codes.bits() != db_codes.bits())
    throw Error("evaluate: query codes have " + std::to_string(query_codes.bits()) +
                " bits but database codes have " + std::to_string(db_codes.bits()));
  // Distances are stored as uint16.
  if (db_codes.bits() > std::numeric_limits<uint16_t>::max())
    throw Error("evaluate: codes of " + std::to_string(db_codes.bits()) + " bits are too long");
  if (nq == 0) throw Error("evaluate: no queries (means over zero queries are undefined)");
  if (!heads.empty() && static_cast<int64_t>(heads.size()) != nq)
    throw Error("evaluate: " + std::to_string(heads.size()) + " heads for " + std::to_string(nq) +
                " queries (pass one per query, or none for the plain Hamming ranking)");
}

// Per-thread buffers, all of database length, reused across that thread's queries.
struct QueryScratch {
  std::vector<uint16_t> dist;       // Hamming distance, database order
  std::vector<int64_t> order;       // stable Hamming ranking: order[r] = database index
  std::vector<uint8_t> rel_db;      // relevance, database order
  std::vector<uint8_t> rel_ranked;  // relevance, final rank order
  std::vector<uint8_t> marker;      // head check; all zero between queries
  explicit QueryScratch(int64_t n) : dist(n), order(n), rel_db(n), rel_ranked(n), marker(n, 0) {}
};

// A head must be a permutation of the Hamming prefix of its own length: mark that prefix,
// then every head id has to land on a marked slot, and on each one once. Returns what is
// wrong, or "" when the head is valid. Leaves `marker` all zero again.
std::string check_head(const std::vector<int64_t>& head, const int64_t* order, int64_t n,
                       std::vector<uint8_t>& marker) {
  const auto len = static_cast<int64_t>(head.size());
  if (len > n)
    return "it has " + std::to_string(len) + " ids but the database has " + std::to_string(n);
  enum : uint8_t { kOutside = 0, kInPrefix = 1, kSeen = 2 };
  for (int64_t r = 0; r < len; ++r) marker[order[r]] = kInPrefix;
  std::string problem;
  for (int64_t id : head) {
    if (id < 0 || id >= n) {
      problem = "id " + std::to_string(id) + " is outside the database";
    } else if (marker[id] == kSeen) {
      problem = "id " + std::to_string(id) + " appears twice";
    } else if (marker[id] == kOutside) {
      problem = "id " + std::to_string(id) + " is not among the first " + std::to_string(len) +
                " items of the Hamming ranking";
    }
    if (!problem.empty()) break;
    marker[id] = kSeen;
  }
  for (int64_t r = 0; r < len; ++r) marker[order[r]] = kOutside;
  return problem;
}

// Everything evaluate() needs to score one query.
struct Inputs {
  const std::vector<LabelSet>& query_labels;
  const std::vector<LabelSet>& db_labels;
  const BinaryCodes& query_codes;
  const BinaryCodes& db_codes;
  const std::vector<Shortlist>& heads;
  const EvalOptions& opts;
};

// Writes query q's metric columns (in metric_names order) and its PR curve (bits + 1
// points each). Returns a description of an invalid head, or "".
std::string evaluate_query(const Inputs& in, int64_t q, QueryScratch& s, double* columns,
                           double* pr_precision, double* pr_recall) {
  const int64_t n = in.db_codes.size();
  const int bits = in.db_codes.bits();
  hamming_distances(in.query_codes.row(q), in.db_codes, s.dist.data());
  rank_by_distance(s.dist.data(), n, bits, s.order.data());

  int64_t total_relevant = 0;
  for (int64_t j = 0; j < n; ++j) {
    s.rel_db[j] = relevant(in.query_labels[q], in.db_labels[j]) ? 1 : 0;
    total_relevant += s.rel_db[j];
  }

  // Final ranking: the head as given, then the rest of the Hamming ranking.
  int64_t head_len = 0;
  if (!in.heads.empty()) {
    const std::vector<int64_t>& head = in.heads[q].ids;
    std::string problem = check_head(head, s.order.data(), n, s.marker);
    if (!problem.empty()) return problem;
    head_len = static_cast<int64_t>(head.size());
    for (int64_t r = 0; r < head_len; ++r) s.rel_ranked[r] = s.rel_db[head[r]];
  }
  for (int64_t r = head_len; r < n; ++r) s.rel_ranked[r] = s.rel_db[s.order[r]];

  const uint8_t* rel = s.rel_ranked.data();
  size_t c = 0;
  for (int64_t k : in.opts.map_at) columns[c++] = average_precision_at(rel, n, k);
  for (int64_t k : in.opts.precision_at) columns[c++] = precision_at(rel, n, k);
  for (int64_t k : in.opts.recall_at) columns[c++] = recall_at(rel, n, k, total_relevant);

  // Distance-based metrics ignore the head: they describe the Hamming ranking itself.
  const DistanceHistogram h = histogram(s.dist.data(), s.rel_db.data(), n, bits);
  columns[c++] = tie_aware_ap(h);
  columns[c++] = precision_within_radius(s.dist.data(), s.rel_db.data(), n, in.opts.hamming_radius);

  int64_t within = 0, relevant_within = 0;
  for (int r = 0; r <= bits; ++r) {
    within += h.items[r];
    relevant_within += h.relevant[r];
    pr_precision[r] =
        within ? static_cast<double>(relevant_within) / static_cast<double>(within) : 0.0;
    pr_recall[r] = total_relevant
                       ? static_cast<double>(relevant_within) / static_cast<double>(total_relevant)
                       : 0.0;
  }
  return "";
}

// Column means of a row-major nq x cols table, summed in query order so the result does
// not depend on how queries were spread over threads.
std::vector<double> column_means(const std::vector<double>& table, int64_t nq, size_t cols) {
  std::vector<double> sums(cols, 0.0);
  for (int64_t q = 0; q < nq; ++q)
    for (size_t c = 0; c < cols; ++c) sums[c] += table[q * cols + c];
  for (double& s : sums) s /= static_cast<double>(nq);
  return sums;
}

}  // namespace

double average_precision_at(const uint8_t* rel, int64_t n, int64_t k) {
  const int64_t kk = cutoff(n, k, "average_precision_at");
  double sum = 0.0;
  int64_t hits = 0;
  for (int64_t i = 0; i < kk; ++i)
    if (rel[i]) {
      ++hits;
      sum += static_cast<double>(hits) / static_cast<double>(i + 1);
    }
  return hits ? sum / static_cast<double>(hits) : 0.0;
}

double precision_at(const uint8_t* rel, int64_t n, int64_t k) {
  const int64_t kk = cutoff(n, k, "precision_at");
  return kk ? static_cast<double>(count_relevant(rel, kk)) / static_cast<double>(kk) : 0.0;
}

double recall_at(const uint8_t* rel, int64_t n, int64_t k, int64_t total_relevant) {
  const int64_t kk = cutoff(n, k, "recall_at");
  if (total_relevant <= 0) return 0.0;
  return static_cast<double>(count_relevant(rel, kk)) / static_cast<double>(total_relevant);
}

double tie_aware_average_precision(const uint16_t* dist, const uint8_t* rel, int64_t n, int bits) {
  return tie_aware_ap(histogram(dist, rel, n, bits));
}

double precision_within_radius(const uint16_t* dist, const uint8_t* rel, int64_t n, int radius) {
  int64_t within = 0, hits = 0;
  for (int64_t j = 0; j < n; ++j)
    if (dist[j] <= radius) {
      ++within;
      hits += rel[j];
    }
  return within ? static_cast<double>(hits) / static_cast<double>(within) : 0.0;
}

double Evaluation::get(const std::string& name) const {
  for (const auto& [key, value] : metrics)
    if (key == name) return value;
  std::string known;
  for (const auto& m : metrics) known += (known.empty() ? "" : ", ") + m.first;
  throw Error("Evaluation::get: unknown metric '" + name +
              "'; known: " + (known.empty() ? "(none)" : known));
}

std::vector<std::string> metric_names(const EvalOptions& opts) {
  std::vector<std::string> names;
  for (int64_t k : opts.map_at) names.push_back("mAP@" + k_label(k));
  for (int64_t k : opts.precision_at) names.push_back("P@" + k_label(k));
  for (int64_t k : opts.recall_at) names.push_back("R@" + k_label(k));
  names.push_back("tie-mAP");
  names.push_back("P@H<=" + std::to_string(opts.hamming_radius));
  return names;
}

Evaluation evaluate(const std::vector<LabelSet>& query_labels,
                    const std::vector<LabelSet>& db_labels, const BinaryCodes& query_codes,
                    const BinaryCodes& db_codes, const std::vector<Shortlist>& heads,
                    const EvalOptions& opts) {
  check_options(opts);
  check_inputs(query_labels, db_labels, query_codes, db_codes, heads);

  const Inputs in{query_labels, db_labels, query_codes, db_codes, heads, opts};
  const std::vector<std::string> names = metric_names(opts);
  const auto nq = static_cast<int64_t>(query_labels.size());
  const int64_t n = db_codes.size();
  const size_t cols = names.size();
  const size_t radii = static_cast<size_t>(db_codes.bits()) + 1;

  // Per-query values, reduced serially below for thread-independent sums.
  std::vector<double> columns(nq * cols), pr_precision(nq * radii), pr_recall(nq * radii);
  std::vector<std::string> head_problems(nq);
  tbb::enumerable_thread_specific<QueryScratch> scratch([n] { return QueryScratch(n); });
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, nq), [&](const tbb::blocked_range<int64_t>& range) {
        QueryScratch& s = scratch.local();
        for (int64_t q = range.begin(); q < range.end(); ++q)
          head_problems[q] = evaluate_query(in, q, s, &columns[q * cols], &pr_precision[q * radii],
                                            &pr_recall[q * radii]);
      });

  // Report the first bad query, whichever thread met it first.
  for (int64_t q = 0; q < nq; ++q)
    if (!head_problems[q].empty())
      throw Error("evaluate: the head of query " + std::to_string(q) +
                  " is not a permutation of its Hamming prefix: " + head_problems[q]);

  Evaluation result;
  const std::vector<double> means = column_means(columns, nq, cols);
  for (size_t c = 0; c < cols; ++c) result.metrics.emplace_back(names[c], means[c]);
  result.pr_precision = column_means(pr_precision, nq, radii);
  result.pr_recall = column_means(pr_recall, nq, radii);
  return result;
}

HammingEvaluation::HammingEvaluation(const std::vector<LabelSet>& query_labels,
                                     const std::vector<LabelSet>& db_labels,
                                     const BinaryCodes& query_codes, const BinaryCodes& db_codes,
                                     int64_t head_limit, const EvalOptions& opts)
    : query_labels_(query_labels), db_labels_(db_labels), opts_(opts) {
  check_options(opts);
  check_inputs(query_labels, db_labels, query_codes, db_codes, {});
  n_ = db_codes.size();
  if (head_limit < 0 || head_limit > n_)
    throw Error("evaluate: head limit " + std::to_string(head_limit) + " outside 0.." +
                std::to_string(n_) + " (the database size)");
  limit_ = head_limit;
  const std::vector<std::string> names = metric_names(opts);
  cols_ = names.size();
  const auto nq = static_cast<int64_t>(query_labels.size());
  const size_t radii = static_cast<size_t>(db_codes.bits()) + 1;
  const size_t maps = opts.map_at.size();
  base_columns_.resize(nq * cols_);
  prefix_.resize(nq * limit_);
  total_relevant_.resize(nq);
  tail_sum_.assign(nq * maps, 0.0);
  tail_hits_.assign(nq * maps, 0);
  std::vector<double> pr_precision(nq * radii), pr_recall(nq * radii);

  const Inputs in{query_labels, db_labels, query_codes, db_codes, {}, opts};
  tbb::enumerable_thread_specific<QueryScratch> scratch([this] { return QueryScratch(n_); });
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, nq), [&](const tbb::blocked_range<int64_t>& range) {
        QueryScratch& s = scratch.local();
        for (int64_t q = range.begin(); q < range.end(); ++q) {
          evaluate_query(in, q, s, &base_columns_[q * cols_], &pr_precision[q * radii],
                         &pr_recall[q * radii]);
          // evaluate_query left this query's Hamming order and ranked relevance in s.
          std::copy(s.order.begin(), s.order.begin() + limit_, prefix_.begin() + q * limit_);
          const uint8_t* rel = s.rel_ranked.data();
          total_relevant_[q] = count_relevant(rel, n_);
          int64_t hits = count_relevant(rel, limit_);
          for (size_t m = 0; m < maps; ++m) {
            const int64_t k = cutoff(n_, opts_.map_at[m], "mAP");
            double sum = 0.0;
            int64_t h = hits;
            for (int64_t i = limit_; i < k; ++i)
              if (rel[i]) sum += static_cast<double>(++h) / static_cast<double>(i + 1);
            tail_sum_[q * maps + m] = sum;
            tail_hits_[q * maps + m] = h;
          }
        }
      });
  const std::vector<double> means = column_means(base_columns_, nq, cols_);
  for (size_t c = 0; c < cols_; ++c) hamming_.metrics.emplace_back(names[c], means[c]);
  hamming_.pr_precision = column_means(pr_precision, nq, radii);
  hamming_.pr_recall = column_means(pr_recall, nq, radii);
}

Evaluation HammingEvaluation::score(const std::vector<Shortlist>& heads) const {
  const auto nq = static_cast<int64_t>(query_labels_.size());
  if (static_cast<int64_t>(heads.size()) != nq)
    throw Error("evaluate: " + std::to_string(heads.size()) + " heads for " + std::to_string(nq) +
                " queries");
  const size_t maps = opts_.map_at.size();
  std::vector<double> columns(base_columns_);
  std::vector<std::string> problems(nq);
  struct Scratch {
    std::vector<uint8_t> marker, rel;
  };
  tbb::enumerable_thread_specific<Scratch> scratch([this] {
    return Scratch{std::vector<uint8_t>(n_, 0), std::vector<uint8_t>(limit_)};
  });
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, nq), [&](const tbb::blocked_range<int64_t>& range) {
        Scratch& s = scratch.local();
        for (int64_t q = range.begin(); q < range.end(); ++q) {
          const std::vector<int64_t>& head = heads[q].ids;
          const int64_t* prefix = &prefix_[q * limit_];
          if (static_cast<int64_t>(head.size()) > limit_) {
            problems[q] = "it has " + std::to_string(head.size()) + " ids, more than the " +
                          std::to_string(limit_) + " this evaluation was prepared for";
            continue;
          }
          problems[q] = check_head(head, prefix, n_, s.marker);
          if (!problems[q].empty()) continue;
          // Ranks 0..limit-1: the head, then the rest of the Hamming prefix.
          const LabelSet query = query_labels_[q];
          const auto h = static_cast<int64_t>(head.size());
          for (int64_t r = 0; r < limit_; ++r)
            s.rel[r] = relevant(query, db_labels_[r < h ? head[r] : prefix[r]]) ? 1 : 0;
          const uint8_t* rel = s.rel.data();
          double* col = &columns[q * cols_];
          size_t c = 0;
          for (size_t m = 0; m < maps; ++m, ++c) {
            const int64_t k = cutoff(n_, opts_.map_at[m], "mAP");
            if (k <= limit_) {
              col[c] = average_precision_at(rel, limit_, k);
              continue;
            }
            double sum = 0.0;
            int64_t hits = 0;
            for (int64_t i = 0; i < limit_; ++i)
              if (rel[i]) sum += static_cast<double>(++hits) / static_cast<double>(i + 1);
            const int64_t total = tail_hits_[q * maps + m];
            col[c] = total ? (sum + tail_sum_[q * maps + m]) / static_cast<double>(total) : 0.0;
          }
          // P@k and R@k past the prefix count the same items whatever the head's order.
          for (int64_t k : opts_.precision_at) {
            if (cutoff(n_, k, "P") < limit_) col[c] = precision_at(rel, limit_, k);
            ++c;
          }
          for (int64_t k : opts_.recall_at) {
            if (cutoff(n_, k, "R") < limit_) col[c] = recall_at(rel, limit_, k, total_relevant_[q]);
            ++c;
          }
        }
      });
  for (int64_t q = 0; q < nq; ++q)
    if (!problems[q].empty())
      throw Error("evaluate: the head of query " + std::to_string(q) +
                  " is not a permutation of its Hamming prefix: " + problems[q]);
  Evaluation result = hamming_;
  const std::vector<double> means = column_means(columns, nq, cols_);
  for (size_t c = 0; c < cols_; ++c) result.metrics[c].second = means[c];
  return result;
}

}  // namespace hamster
