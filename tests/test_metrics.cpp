// The metrics of docs/protocol.md on rankings worked by hand; expected values are written as
// the fractions the hand computation gives.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/codes/hamming_search.h"
#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "tests/helpers.h"

using namespace hamster;

namespace {

// Codes given as integers: bit b of values[i] is bit b of row i (bits <= 64).
BinaryCodes codes_of(const std::vector<uint64_t>& values, int bits) {
  BinaryCodes codes(static_cast<int64_t>(values.size()), bits);
  for (size_t i = 0; i < values.size(); ++i)
    for (int b = 0; b < bits; ++b) codes.set_bit(static_cast<int64_t>(i), b, (values[i] >> b) & 1u);
  return codes;
}

Shortlist head_of(std::vector<int64_t> ids) {
  Shortlist s;
  s.scores.assign(ids.size(), 0.0f);
  s.ids = std::move(ids);
  return s;
}

double ap_all(const std::vector<uint8_t>& rel) {
  return average_precision_at(rel.data(), static_cast<int64_t>(rel.size()), kAll);
}

// Tie-aware AP by exhaustive enumeration: the mean AP@all over every ordering of the items
// that sorts them by distance (each tie order equally likely).
double brute_force_tie_ap(const std::vector<uint16_t>& dist, const std::vector<uint8_t>& rel) {
  std::vector<int> perm(dist.size());
  std::iota(perm.begin(), perm.end(), 0);
  double sum = 0.0;
  int orderings = 0;
  do {
    bool sorted = true;
    for (size_t r = 1; r < perm.size(); ++r) sorted = sorted && dist[perm[r - 1]] <= dist[perm[r]];
    if (!sorted) continue;
    std::vector<uint8_t> ranked;
    for (int j : perm) ranked.push_back(rel[j]);
    sum += ap_all(ranked);
    ++orderings;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return sum / orderings;
}

// A plain reference for mAP@all: std::stable_sort by distance, the protocol's AP formula.
double reference_map_all(const std::vector<LabelSet>& ql, const std::vector<LabelSet>& dl,
                         const BinaryCodes& qc, const BinaryCodes& dc) {
  double total = 0.0;
  for (int64_t q = 0; q < qc.size(); ++q) {
    std::vector<int64_t> order(dc.size());
    std::iota(order.begin(), order.end(), 0);
    auto dist = [&](int64_t j) { return hamming(qc.row(q), dc.row(j), dc.words()); };
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return dist(a) < dist(b); });
    double sum = 0.0;
    int hits = 0;
    for (size_t r = 0; r < order.size(); ++r)
      if (relevant(ql[q], dl[order[r]]))
        sum += static_cast<double>(++hits) / static_cast<double>(r + 1);
    total += hits ? sum / hits : 0.0;
  }
  return total / static_cast<double>(qc.size());
}

// A small multi-label database of 6-bit codes used by several tests below.
//   item: code    labels
//   0:    000000  {0}
//   1:    000001  {1}
//   2:    000011  {0,1}
//   3:    001000  {2}
//   4:    000111  {0}
const std::vector<uint64_t> kDbCodes = {0b000000, 0b000001, 0b000011, 0b001000, 0b000111};
const std::vector<LabelSet> kDbLabels = test::label_sets({0b001, 0b010, 0b011, 0b100, 0b001});
constexpr int kBits = 6;

EvalOptions small_options() {
  EvalOptions o;
  o.map_at = {kAll, 2};
  o.precision_at = {2};
  o.recall_at = {2};
  o.hamming_radius = 2;
  return o;
}

}  // namespace

TEST_CASE("AP@k - P@k and R@k of one hand-worked ranking") {
  const std::vector<uint8_t> rel = {1, 0, 1, 0, 0, 1};
  const uint8_t* r = rel.data();
  // AP@all = (1/3)(1/1 + 2/3 + 3/6)
  CHECK(average_precision_at(r, 6, kAll) == doctest::Approx((1.0 + 2.0 / 3 + 3.0 / 6) / 3));
  // AP@3 = (1/2)(1/1 + 2/3): normalised by the 2 relevant items in the top 3
  CHECK(average_precision_at(r, 6, 3) == doctest::Approx((1.0 + 2.0 / 3) / 2));
  // AP@2 = (1/1)(1/1)
  CHECK(average_precision_at(r, 6, 2) == doctest::Approx(1.0));
  CHECK(average_precision_at(r, 6, 6) == doctest::Approx(average_precision_at(r, 6, kAll)));
  // P@1 = 1, P@3 = 2/3, P@4 = 2/4, P@6 = 3/6
  CHECK(precision_at(r, 6, 1) == doctest::Approx(1.0));
  CHECK(precision_at(r, 6, 3) == doctest::Approx(2.0 / 3));
  CHECK(precision_at(r, 6, 4) == doctest::Approx(2.0 / 4));
  CHECK(precision_at(r, 6, kAll) == doctest::Approx(3.0 / 6));
  // R@3 = 2/3 of the 3 relevant; against 5 relevant in a larger database, 2/5
  CHECK(recall_at(r, 6, 3, 3) == doctest::Approx(2.0 / 3));
  CHECK(recall_at(r, 6, 3, 5) == doctest::Approx(2.0 / 5));
  CHECK(recall_at(r, 6, kAll, 3) == doctest::Approx(1.0));
}

TEST_CASE("k past the end of the ranking means the whole ranking") {
  const std::vector<uint8_t> rel = {1, 0, 1, 0, 0, 1};
  const uint8_t* r = rel.data();
  CHECK(average_precision_at(r, 6, 100) == doctest::Approx((1.0 + 2.0 / 3 + 3.0 / 6) / 3));
  CHECK(precision_at(r, 6, 100) == doctest::Approx(3.0 / 6));
  CHECK(recall_at(r, 6, 100, 3) == doctest::Approx(1.0));
  CHECK_THROWS_AS(average_precision_at(r, 6, -1), Error);
  CHECK_THROWS_AS(precision_at(r, 6, -1), Error);
}

TEST_CASE("no relevant item in the top k gives 0") {
  const std::vector<uint8_t> rel = {0, 0, 1};
  CHECK(average_precision_at(rel.data(), 3, 2) == 0.0);
  CHECK(precision_at(rel.data(), 3, 2) == 0.0);
  CHECK(recall_at(rel.data(), 3, 2, 1) == 0.0);
  const std::vector<uint8_t> none = {0, 0, 0};
  CHECK(average_precision_at(none.data(), 3, kAll) == 0.0);
  CHECK(recall_at(none.data(), 3, kAll, 0) == 0.0);
  CHECK(average_precision_at(nullptr, 0, kAll) == 0.0);
  CHECK(precision_at(nullptr, 0, 10) == 0.0);
}

TEST_CASE("tie-aware AP: closed form by hand") {
  // Distances 0,1,1,2 with relevance 1,0,1,1 (database order).
  // d=0: n=1 r=1, nothing before: (1/1) * (0+1)/(0+1) = 1
  // d=1: n=2 r=1, N<=1 R<=1: (1/2) * [(1+1)/2 + (1+1)/3] = 5/6
  // d=2: n=1 r=1, N<=3 R<=2: (2+1)/4 = 3/4
  // AP = (1/3)(1 + 5/6 + 3/4); orders 0,1,2,3 and 0,2,1,3 give (1/3)(1 + 2/3 + 3/4) and
  // (1/3)(1 + 2/2 + 3/4), whose mean is the same.
  const std::vector<uint16_t> dist = {0, 1, 1, 2};
  const std::vector<uint8_t> rel = {1, 0, 1, 1};
  const double expected = (1.0 + 5.0 / 6 + 3.0 / 4) / 3;
  CHECK(tie_aware_average_precision(dist.data(), rel.data(), 4, 4) == doctest::Approx(expected));
  CHECK(brute_force_tie_ap(dist, rel) == doctest::Approx(expected));
  // A distance past `bits` is a caller error.
  CHECK_THROWS_AS(tie_aware_average_precision(dist.data(), rel.data(), 4, 1), Error);
  // No relevant item: 0.
  const std::vector<uint8_t> none = {0, 0, 0, 0};
  CHECK(tie_aware_average_precision(dist.data(), none.data(), 4, 4) == 0.0);
}

TEST_CASE("tie-aware AP equals the exhaustive average over tie orders") {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 7);
    const int bits = 1 + static_cast<int>(rng() % 3);
    std::vector<uint16_t> dist(n);
    std::vector<uint8_t> rel(n);
    for (int j = 0; j < n; ++j) {
      dist[j] = static_cast<uint16_t>(rng() % (bits + 1));
      rel[j] = static_cast<uint8_t>(rng() % 2);
    }
    CAPTURE(trial);
    CHECK(tie_aware_average_precision(dist.data(), rel.data(), n, bits) ==
          doctest::Approx(brute_force_tie_ap(dist, rel)).epsilon(1e-12));
  }
}

TEST_CASE("precision within a Hamming radius") {
  const std::vector<uint16_t> dist = {3, 0, 2, 1, 4};
  const std::vector<uint8_t> rel = {1, 1, 0, 0, 1};
  CHECK(precision_within_radius(dist.data(), rel.data(), 5, 2) ==
        doctest::Approx(1.0 / 3));  // items 1,2,3
  CHECK(precision_within_radius(dist.data(), rel.data(), 5, 0) == doctest::Approx(1.0));  // item 1
  const std::vector<uint16_t> far = {3, 5, 4, 3, 4};
  CHECK(precision_within_radius(far.data(), rel.data(), 5, 2) == 0.0);  // nothing retrieved
}

TEST_CASE("evaluate: four queries worked by hand - multi-label relevance") {
  // Query 0: code 000000, labels {0}. Distances to items 0..4: 0,1,2,1,3.
  //   Stable ranking 0,1,3,2,4; relevant (sharing label 0): items 0,2,4 -> rel 1,0,0,1,1.
  //   AP@all = (1/3)(1 + 2/4 + 3/5) = 7/10; AP@2 = 1; P@2 = 1/2; R@2 = 1/3;
  //   tie-mAP = 7/10 (the only tie holds no relevant item); P@H<=2 = 2/4.
  // Query 1: code 001111, labels {1}. Distances: 4,3,2,3,1.
  //   Ranking 4,2,1,3,0; relevant: items 1,2 -> rel 0,1,1,0,0.
  //   AP@all = (1/2)(1/2 + 2/3) = 7/12; AP@2 = 1/2; P@2 = 1/2; R@2 = 1/2;
  //   tie-mAP: d=2 gives (0+1)/2; d=3 (n=2, r=1, N<=2, R<=1) gives (1/2)(2/3 + 2/4);
  //   (1/2)(1/2 + 7/12) = 13/24. P@H<=2: items 4,2 -> 1/2.
  // Query 2: code 110100, labels {0}. Distances: 3,4,5,4,4: nothing within radius 2.
  //   Ranking 0,1,3,4,2; rel 1,0,0,1,1. AP@all = 7/10; AP@2 = 1; P@2 = 1/2; R@2 = 1/3;
  //   tie-mAP: d=3 gives 1; d=4 (n=3, r=1, N<=1, R<=1) gives (1/3)(2/2 + 2/3 + 2/4) = 13/18;
  //   d=5 gives 3/5; (1/3)(1 + 13/18 + 3/5) = 209/270. P@H<=2 = 0.
  // Query 3: code 000001, labels {3}: no relevant item, every metric 0, still in the mean.
  const std::vector<LabelSet> query_labels = test::label_sets({0b001, 0b010, 0b001, 0b1000});
  const BinaryCodes queries = codes_of({0b000000, 0b001111, 0b110100, 0b000001}, kBits);
  const BinaryCodes db = codes_of(kDbCodes, kBits);
  const Evaluation ev = evaluate(query_labels, kDbLabels, queries, db, {}, small_options());

  const std::vector<std::string> names = {"mAP@all", "mAP@2", "P@2", "R@2", "tie-mAP", "P@H<=2"};
  CHECK(metric_names(small_options()) == names);
  REQUIRE(ev.metrics.size() == names.size());
  for (size_t c = 0; c < names.size(); ++c) CHECK(ev.metrics[c].first == names[c]);

  CHECK(ev.get("mAP@all") == doctest::Approx((7.0 / 10 + 7.0 / 12 + 7.0 / 10 + 0) / 4));  // 119/240
  CHECK(ev.get("mAP@2") == doctest::Approx((1 + 1.0 / 2 + 1 + 0) / 4));                   // 5/8
  CHECK(ev.get("P@2") == doctest::Approx((1.0 / 2 + 1.0 / 2 + 1.0 / 2 + 0) / 4));         // 3/8
  CHECK(ev.get("R@2") == doctest::Approx((1.0 / 3 + 1.0 / 2 + 1.0 / 3 + 0) / 4));         // 7/24
  CHECK(ev.get("tie-mAP") == doctest::Approx((7.0 / 10 + 13.0 / 24 + 209.0 / 270 + 0) / 4));
  CHECK(ev.get("P@H<=2") == doctest::Approx((2.0 / 4 + 1.0 / 2 + 0 + 0) / 4));  // 1/4

  // PR curve, r = 0..6. Within r = 0: query 0 retrieves item 0 (precision 1, recall 1/3),
  // the others nothing (0, 0); query 3 has no relevant item (precision and recall 0).
  REQUIRE(ev.pr_precision.size() == kBits + 1);
  REQUIRE(ev.pr_recall.size() == kBits + 1);
  CHECK(ev.pr_precision[0] == doctest::Approx((1.0 + 0 + 0 + 0) / 4));
  CHECK(ev.pr_recall[0] == doctest::Approx((1.0 / 3 + 0 + 0 + 0) / 4));
  // r = 2: query 0 {0,1,3,2}: 2/4, 2/3; query 1 {4,2}: 1/2, 1/2; query 2 nothing;
  // query 3 {1,0,2,3,4 within 2}: 0, 0.
  CHECK(ev.pr_precision[2] == doctest::Approx((2.0 / 4 + 1.0 / 2 + 0 + 0) / 4));
  CHECK(ev.pr_recall[2] == doctest::Approx((2.0 / 3 + 1.0 / 2 + 0 + 0) / 4));
  // r = bits: everything retrieved; precision = relevant fraction: 3/5, 2/5, 3/5, 0.
  CHECK(ev.pr_precision[kBits] == doctest::Approx((3.0 / 5 + 2.0 / 5 + 3.0 / 5 + 0) / 4));
  CHECK(ev.pr_recall[kBits] == doctest::Approx((1.0 + 1 + 1 + 0) / 4));
}

TEST_CASE("evaluate: the PR curve ends at recall 1 and rises monotonically") {
  const std::vector<LabelSet> query_labels = test::label_sets({0b001, 0b010, 0b001});
  const BinaryCodes queries = codes_of({0b000000, 0b001111, 0b110100}, kBits);
  const Evaluation ev =
      evaluate(query_labels, kDbLabels, queries, codes_of(kDbCodes, kBits), {}, small_options());
  CHECK(ev.pr_recall[kBits] == doctest::Approx(1.0));
  for (int r = 1; r <= kBits; ++r) CHECK(ev.pr_recall[r] >= ev.pr_recall[r - 1]);
}

TEST_CASE("evaluate: ties keep database-index order - tie-mAP averages over tie orders") {
  // One query, code 0000, label {0}. Database (index: distance, relevant):
  //   0: 2, no   1: 1, no   2: 1, yes   3: 3, yes
  // Index order breaks the d=1 tie as 1,2: rel 0,1,0,1, AP = (1/2)(1/2 + 2/4) = 1/2.
  // The same items stored in reverse put the relevant one first:
  //   rel 1,0,0,1, AP = (1/2)(1/1 + 2/4) = 3/4.
  // tie-mAP = mean of the two orders = 5/8 for both databases:
  //   d=1 (n=2, r=1): (1/2)[(0+1)/1 + (0+1)/2] = 3/4; d=3 (N<=3, R<=1): 2/4; (1/2)(3/4 + 1/2).
  const BinaryCodes query = codes_of({0b0000}, 4);
  const std::vector<LabelSet> query_label = test::label_sets({0b01});
  const std::vector<uint64_t> codes = {0b0011, 0b0001, 0b0010, 0b0111};
  const std::vector<LabelSet> labels = test::label_sets({0b10, 0b10, 0b11, 0b01});
  const std::vector<uint64_t> reversed_codes(codes.rbegin(), codes.rend());
  const std::vector<LabelSet> reversed_labels(labels.rbegin(), labels.rend());

  EvalOptions opts;
  opts.map_at = {kAll};
  const Evaluation forward = evaluate(query_label, labels, query, codes_of(codes, 4), {}, opts);
  const Evaluation reverse =
      evaluate(query_label, reversed_labels, query, codes_of(reversed_codes, 4), {}, opts);
  CHECK(forward.get("mAP@all") == doctest::Approx(1.0 / 2));
  CHECK(reverse.get("mAP@all") == doctest::Approx(3.0 / 4));
  CHECK(forward.get("tie-mAP") == doctest::Approx(5.0 / 8));
  CHECK(reverse.get("tie-mAP") == doctest::Approx(5.0 / 8));
  // Exhaustive check of the same number.
  CHECK(brute_force_tie_ap({2, 1, 1, 3}, {0, 0, 1, 1}) == doctest::Approx(5.0 / 8));
}

TEST_CASE("evaluate: heads reorder the Hamming prefix") {
  // Query 0 (code 000000, labels {0}) ranks 0,1,3,2,4 with rel 1,0,0,1,1 (AP = 7/10).
  //   Head {2,0,1,3} reorders the first 4: rel 1,1,0,0,1, AP = (1/3)(1 + 2/2 + 3/5) = 13/15.
  // Query 1 (code 001111, labels {1}) ranks 4,2,1,3,0; an empty head keeps that order:
  //   AP = 7/12. mAP@all = (13/15 + 7/12)/2 = 29/40.
  const std::vector<LabelSet> query_labels = test::label_sets({0b001, 0b010});
  const BinaryCodes queries = codes_of({0b000000, 0b001111}, kBits);
  const BinaryCodes db = codes_of(kDbCodes, kBits);
  const EvalOptions opts = small_options();

  const Evaluation plain = evaluate(query_labels, kDbLabels, queries, db, {}, opts);
  const Evaluation reranked =
      evaluate(query_labels, kDbLabels, queries, db, {head_of({2, 0, 1, 3}), head_of({})}, opts);
  CHECK(plain.get("mAP@all") == doctest::Approx((7.0 / 10 + 7.0 / 12) / 2));
  CHECK(reranked.get("mAP@all") == doctest::Approx((13.0 / 15 + 7.0 / 12) / 2));
  // mAP@2: query 0 rel 1,1 -> 1; query 1 rel 0,1 -> 1/2. P@2: (2/2 + 1/2)/2.
  CHECK(reranked.get("mAP@2") == doctest::Approx((1 + 1.0 / 2) / 2));
  CHECK(reranked.get("P@2") == doctest::Approx((1 + 1.0 / 2) / 2));
  // Head {1,3,2,0}: rel 0,0,1,1,1, AP = (1/3)(1/3 + 2/4 + 3/5) = 43/90.
  const Evaluation worse =
      evaluate(query_labels, kDbLabels, queries, db, {head_of({1, 3, 2, 0}), head_of({})}, opts);
  CHECK(worse.get("mAP@all") == doctest::Approx((43.0 / 90 + 7.0 / 12) / 2));
  // Distance-based metrics describe the Hamming ranking and ignore heads.
  for (const char* name : {"tie-mAP", "P@H<=2"}) {
    CHECK(reranked.get(name) == plain.get(name));
    CHECK(worse.get(name) == plain.get(name));
  }
  // A head that is the Hamming prefix itself changes nothing.
  const Evaluation same = evaluate(query_labels, kDbLabels, queries, db,
                                   {head_of({0, 1, 3}), head_of({4, 2, 1, 3, 0})}, opts);
  CHECK(same.metrics == plain.metrics);
}

TEST_CASE("evaluate: an invalid head names its query") {
  const std::vector<LabelSet> query_labels = test::label_sets({0b001, 0b010});
  const BinaryCodes queries = codes_of({0b000000, 0b001111}, kBits);
  const BinaryCodes db = codes_of(kDbCodes, kBits);
  auto with_heads = [&](std::vector<Shortlist> heads) {
    return test::error_message([&] { evaluate(query_labels, kDbLabels, queries, db, heads); });
  };
  // Query 1 ranks 4,2,1,3,0: its first two items are {4,2}, so 3 is not allowed.
  const std::string outside = with_heads({head_of({0}), head_of({4, 3})});
  CHECK(outside.find("query 1") != std::string::npos);
  CHECK(outside.find("id 3") != std::string::npos);
  CHECK(with_heads({head_of({0, 0}), head_of({})}).find("query 0") != std::string::npos);  // repeat
  CHECK(with_heads({head_of({}), head_of({4, 99})}).find("query 1") != std::string::npos);  // range
  CHECK(with_heads({head_of({}), head_of({4, -1})}).find("query 1") != std::string::npos);
  CHECK(with_heads({head_of({0, 1, 3, 2, 4, 0}), head_of({})}).find("query 0") !=
        std::string::npos);
  CHECK_FALSE(with_heads({head_of({0})}).empty());  // one head for two queries
  // The first failing query is reported, whichever thread sees it.
  CHECK(with_heads({head_of({1}), head_of({2})}).find("query 0") != std::string::npos);
}

TEST_CASE("evaluate: mismatched inputs and unknown metric names are errors") {
  const BinaryCodes queries = codes_of({0b0, 0b1}, kBits);
  const BinaryCodes db = codes_of(kDbCodes, kBits);
  CHECK_THROWS_AS(evaluate(test::label_sets({0b1}), kDbLabels, queries, db, {}),
                  Error);  // labels vs codes
  CHECK_THROWS_AS(evaluate(test::label_sets({0b1, 0b1}), test::label_sets({0b1}), queries, db, {}),
                  Error);  // database
  CHECK_THROWS_AS(evaluate(test::label_sets({0b1, 0b1}), kDbLabels, codes_of({0, 1}, 8), db, {}),
                  Error);                                                          // bits
  CHECK_THROWS_AS(evaluate({}, kDbLabels, BinaryCodes(0, kBits), db, {}), Error);  // no queries
  EvalOptions negative;
  negative.precision_at = {-5};
  CHECK_THROWS_AS(evaluate(test::label_sets({0b1, 0b1}), kDbLabels, queries, db, {}, negative),
                  Error);

  const Evaluation ev = evaluate(test::label_sets({0b1, 0b1}), kDbLabels, queries, db, {});
  const std::string message = test::error_message([&] { ev.get("mAP@5000"); });
  CHECK(message.find("mAP@5000") != std::string::npos);
  CHECK(message.find("mAP@all") != std::string::npos);  // lists the known names
  CHECK(message.find("tie-mAP") != std::string::npos);
}

TEST_CASE("evaluate agrees with a stable-sort reference on random data and is deterministic") {
  std::mt19937_64 rng(7);
  const int bits = 12, nq = 40, n = 500;
  std::vector<uint64_t> qv(nq), dv(n);
  std::vector<LabelSet> ql(nq), dl(n);
  // Few bits and labels so that ties and multi-label overlaps are common.
  for (auto& v : qv) v = rng() & 0xfff;
  for (auto& v : dv) v = rng() & 0xfff;
  for (auto& l : ql)
    l = test::label_set((1ull << (rng() % 5)) | (rng() % 3 == 0 ? 1ull << (rng() % 5) : 0));
  for (auto& l : dl)
    l = test::label_set((1ull << (rng() % 5)) | (rng() % 3 == 0 ? 1ull << (rng() % 5) : 0));
  ql[0] = LabelSet::of(40);  // one query with no relevant item
  const BinaryCodes qc = codes_of(qv, bits), dc = codes_of(dv, bits);

  EvalOptions opts;
  opts.map_at = {kAll, 50};
  const Evaluation a = evaluate(ql, dl, qc, dc, {}, opts);
  CHECK(a.get("mAP@all") == doctest::Approx(reference_map_all(ql, dl, qc, dc)).epsilon(1e-12));
  const Evaluation b = evaluate(ql, dl, qc, dc, {}, opts);
  CHECK(a.metrics == b.metrics);  // bit-identical, whatever the thread schedule
  CHECK(a.pr_precision == b.pr_precision);
  CHECK(a.pr_recall == b.pr_recall);
}

TEST_CASE("HammingEvaluation scores heads exactly as evaluate does") {
  std::mt19937_64 rng(11);
  const int bits = 10, nq = 30, n = 400, limit = 60;
  std::vector<uint64_t> qv(nq), dv(n);
  std::vector<LabelSet> ql(nq), dl(n);
  for (auto& v : qv) v = rng() & 0x3ff;
  for (auto& v : dv) v = rng() & 0x3ff;
  for (auto& l : ql) l = LabelSet::of(static_cast<int>(rng() % 4));
  for (auto& l : dl) l = test::label_set((1ull << (rng() % 4)) | (rng() % 4 == 0 ? 1 : 0));
  ql[3] = LabelSet::of(30);  // no relevant item anywhere
  const BinaryCodes qc = codes_of(qv, bits), dc = codes_of(dv, bits);
  EvalOptions opts;
  // Cut-offs below, at and beyond the head limit, and all.
  opts.map_at = {kAll, 20, limit, 100};
  opts.precision_at = {10, limit, 200};
  opts.recall_at = {30, 300};
  const HammingEvaluation stage1(ql, dl, qc, dc, limit, opts);
  CHECK(stage1.hamming().metrics == evaluate(ql, dl, qc, dc, {}, opts).metrics);

  // Heads: shuffled Hamming prefixes of varying length (some shorter than the limit).
  const std::vector<Shortlist> prefixes = hamming_knn(qc, dc, limit);
  std::vector<Shortlist> heads;
  for (int q = 0; q < nq; ++q) {
    std::vector<int64_t> ids = prefixes[q].ids;
    ids.resize(q % 5 == 0 ? limit / 2 : limit);
    std::shuffle(ids.begin(), ids.end(), rng);
    heads.push_back(head_of(ids));
  }
  const Evaluation fast = stage1.score(heads);
  const Evaluation full = evaluate(ql, dl, qc, dc, heads, opts);
  REQUIRE(fast.metrics.size() == full.metrics.size());
  for (size_t c = 0; c < full.metrics.size(); ++c) {
    CAPTURE(full.metrics[c].first);
    CHECK(fast.metrics[c].first == full.metrics[c].first);
    CHECK(fast.metrics[c].second == doctest::Approx(full.metrics[c].second).epsilon(1e-12));
  }
  // The shuffle really moved the head-dependent metrics.
  CHECK(fast.get("mAP@20") != doctest::Approx(stage1.hamming().get("mAP@20")));

  // A head longer than the limit, or reaching outside the prefix, names its query.
  std::vector<Shortlist> bad = heads;
  bad[7].ids.push_back(prefixes[7].ids[0]);
  CHECK(test::error_message([&] { stage1.score(bad); }).find("query 7") != std::string::npos);
  bad = heads;
  bad[9].ids[0] = prefixes[9].ids[0] == 0 ? 1 : 0;
  bad[9].ids[1] = bad[9].ids[0];
  CHECK(test::error_message([&] { stage1.score(bad); }).find("query 9") != std::string::npos);
  CHECK_THROWS_AS(HammingEvaluation(ql, dl, qc, dc, n + 1, opts), Error);
}
