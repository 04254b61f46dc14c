// Label sets wider than 64 classes, relevance and metrics on them, the per-concept split
// of the multi-label protocols, and labels through .npy files.
#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/data/loaders.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/npy.h"
#include "tests/helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

LabelSet classes_of(std::initializer_list<int> classes) {
  LabelSet s;
  for (int c : classes) s.set(c);
  return s;
}

BinaryCodes codes_of(const std::vector<uint64_t>& words, int bits) {
  BinaryCodes codes(static_cast<int64_t>(words.size()), bits);
  for (size_t i = 0; i < words.size(); ++i) codes.row(static_cast<int64_t>(i))[0] = words[i];
  return codes;
}

// n items of 1x1 pixels over `classes` concepts, each with one to three labels drawn with
// `seed`; concept c is carried by roughly n * 2 / classes items.
Dataset multi_label(int64_t n, int classes, uint64_t seed) {
  Dataset d;
  d.name = "multi";
  d.channels = d.height = d.width = 1;
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    LabelSet s;
    const int k = 1 + static_cast<int>(rng.below(3));
    for (int j = 0; j < k; ++j) s.set(static_cast<int>(rng.below(classes)));
    d.labels.push_back(s);
    d.pixels.push_back(static_cast<uint8_t>(i));
  }
  for (int c = 0; c < classes; ++c) d.class_names.push_back("c" + std::to_string(c));
  return d;
}

int64_t carrying(const Dataset& d, const std::vector<int64_t>& ids, int c) {
  return std::count_if(ids.begin(), ids.end(), [&](int64_t i) { return d.has_label(i, c); });
}

}  // namespace

TEST_CASE("labels: a set holds 128 classes - set - test - count - equality") {
  CHECK(kMaxClasses >= 128);
  LabelSet s;
  CHECK(s.empty());
  CHECK(s.lowest() == -1);
  s.set(70);
  s.set(3);
  s.set(127);
  s.set(70);  // setting twice is one class
  CHECK(s.count() == 3);
  CHECK(s.test(70));
  CHECK(s.test(127));
  CHECK_FALSE(s.test(71));
  CHECK_FALSE(s.test(6));  // 70 - 64: the words do not alias
  CHECK_FALSE(s.test(-1));
  CHECK_FALSE(s.test(500));
  CHECK(s.lowest() == 3);
  CHECK(s == classes_of({127, 3, 70}));
  CHECK(s != classes_of({3, 70}));
  CHECK(LabelSet::of(64).lowest() == 64);
  CHECK_THROWS_WITH_AS(s.set(kMaxClasses), doctest::Contains("label class 128 is outside 0..127"),
                       Error);
  CHECK_THROWS_AS(s.set(-1), Error);
}

TEST_CASE("labels: relevance is any shared class - in either word") {
  CHECK(relevant(LabelSet::of(70), classes_of({5, 70})));  // only class 70 in common
  CHECK_FALSE(relevant(LabelSet::of(70), LabelSet::of(71)));
  CHECK_FALSE(relevant(LabelSet::of(63), LabelSet::of(64)));  // either side of the word border
  CHECK(relevant(LabelSet::of(64), LabelSet::of(64)));
  CHECK(relevant(classes_of({0, 100}), classes_of({1, 2, 0})));
  CHECK_FALSE(relevant(LabelSet{}, LabelSet{}));
}

TEST_CASE("labels: metrics on 80-class data worked by hand") {
  // Database (4-bit codes): 0: 0000 {3}; 1: 0001 {5, 70}; 2: 0011 {71}; 3: 0111 {70}.
  // Every query has code 0000, so the ranking is 0,1,2,3.
  //   Query {70}: rel 0,1,0,1 -> AP@all = (1/2)(1/2 + 2/4) = 1/2; P@2 = 1/2.
  //   Query {64}: nothing relevant -> 0.
  //   Query {63, 71}: rel 0,0,1,0 -> AP@all = 1/3; P@2 = 0.
  const std::vector<LabelSet> db = {LabelSet::of(3), classes_of({5, 70}), LabelSet::of(71),
                                    LabelSet::of(70)};
  const std::vector<LabelSet> queries = {LabelSet::of(70), LabelSet::of(64), classes_of({63, 71})};
  EvalOptions opts;
  opts.map_at = {kAll};
  opts.precision_at = {2};
  opts.recall_at = {2};
  const Evaluation ev = evaluate(queries, db, codes_of({0, 0, 0}, 4),
                                 codes_of({0b0000, 0b0001, 0b0011, 0b0111}, 4), {}, opts);
  CHECK(ev.get("mAP@all") == doctest::Approx((1.0 / 2 + 0 + 1.0 / 3) / 3));
  CHECK(ev.get("P@2") == doctest::Approx((1.0 / 2 + 0 + 0) / 3));
  CHECK(ev.get("R@2") == doctest::Approx((1.0 / 2 + 0 + 0) / 3));
}

TEST_CASE("labels: classes moved to 64..79 give the same metrics as 0..15") {
  Rng rng(3);
  const int nq = 20, n = 300, bits = 8;
  std::vector<uint64_t> qc(nq), dc(n);
  std::vector<LabelSet> low_q(nq), low_db(n), high_q(nq), high_db(n);
  auto draw = [&](LabelSet& low, LabelSet& high) {
    for (int k = 0; k < 2; ++k) {
      const int c = static_cast<int>(rng.below(16));
      low.set(c);
      high.set(64 + c);
    }
  };
  for (int i = 0; i < nq; ++i) qc[i] = rng.below(256), draw(low_q[i], high_q[i]);
  for (int i = 0; i < n; ++i) dc[i] = rng.below(256), draw(low_db[i], high_db[i]);
  const BinaryCodes queries = codes_of(qc, bits), db = codes_of(dc, bits);
  const Evaluation low = evaluate(low_q, low_db, queries, db, {});
  const Evaluation high = evaluate(high_q, high_db, queries, db, {});
  CHECK(low.metrics == high.metrics);
  CHECK(low.get("mAP@all") > 0.1);  // the data has relevant items to find
  const HammingEvaluation stage1(high_q, high_db, queries, db, 50);
  CHECK(stage1.hamming().metrics == low.metrics);
}

TEST_CASE("labels: loaders refuse more classes than a label set holds") {
  CHECK_THROWS_WITH_AS(load_idx("/nonexistent/images", "/nonexistent/labels", "x", 129),
                       doctest::Contains("num_classes 129 is outside 1..128"), Error);
}

TEST_CASE("labels: npy files hold an n x classes 0/1 matrix - older uint64 masks still read") {
  const fs::path dir = test::fresh_temp_dir("npy-labels");
  const std::vector<LabelSet> labels = {classes_of({0, 79}), LabelSet::of(70), classes_of({5})};
  save_labels(dir / "l.npy", labels, 80);
  const NpyArray a = load_npy(dir / "l.npy");
  CHECK(a.descr == "|u1");
  CHECK(a.shape == std::vector<int64_t>{3, 80});
  CHECK(a.bytes[0 * 80 + 79] == 1);
  CHECK(a.bytes[1 * 80 + 70] == 1);
  CHECK(std::count(a.bytes.begin(), a.bytes.end(), 1) == 4);
  CHECK(load_labels(dir / "l.npy") == labels);

  NpyArray old{"<u8", {2}, std::vector<char>(16, 0)};
  old.bytes[0] = 0b101;                     // item 0: classes 0 and 2
  old.bytes[15] = static_cast<char>(0x80);  // item 1: class 63
  save_npy(dir / "old.npy", old);
  CHECK(load_labels(dir / "old.npy") ==
        std::vector<LabelSet>{classes_of({0, 2}), LabelSet::of(63)});

  NpyArray bad{"|u1", {1, 2}, {0, 2}};
  save_npy(dir / "bad.npy", bad);
  CHECK_THROWS_WITH_AS(load_labels(dir / "bad.npy"),
                       doctest::Contains("bad.npy: label [0, 1] is 2, expected 0 or 1"), Error);
  CHECK_THROWS_WITH_AS(save_labels(dir / "wide.npy", labels, 129), doctest::Contains("at most 128"),
                       Error);
  fs::remove_all(dir);
}

TEST_CASE("split: per-concept draws each item once - counts per concept - database") {
  const Dataset d = multi_label(400, 6, 1);
  const Split s = make_concept_split(d, 5, 12, 7);
  CHECK(s.protocol == "per-concept");
  CHECK(s.query.size() == 6 * 5);  // an item is drawn at most once
  CHECK(s.train.size() == 6 * 12);
  for (int c = 0; c < 6; ++c) {
    CAPTURE(c);
    CHECK(carrying(d, s.query, c) >= 5);
    CHECK(carrying(d, s.train, c) >= 12);
  }
  CHECK(std::is_sorted(s.query.begin(), s.query.end()));
  std::vector<int64_t> shared;
  std::set_intersection(s.query.begin(), s.query.end(), s.train.begin(), s.train.end(),
                        std::back_inserter(shared));
  CHECK(shared.empty());
  // The database is every non-query item, the training items among them.
  CHECK(s.database.size() + s.query.size() == 400);
  CHECK(std::includes(s.database.begin(), s.database.end(), s.train.begin(), s.train.end()));
  shared.clear();
  std::set_intersection(s.query.begin(), s.query.end(), s.database.begin(), s.database.end(),
                        std::back_inserter(shared));
  CHECK(shared.empty());

  const Split again = make_concept_split(d, 5, 12, 7);
  CHECK(again.query == s.query);
  CHECK(again.train == s.train);
  CHECK(make_concept_split(d, 5, 12, 8).query != s.query);
  // The queries do not depend on how many training items are drawn after them.
  CHECK(make_concept_split(d, 5, 3, 7).query == s.query);
}

TEST_CASE("split: per-concept names the concept that runs short") {
  Dataset d = multi_label(200, 4, 2);
  d.class_names.push_back("never-used");  // concept 4 has no item
  CHECK_THROWS_WITH_AS(make_concept_split(d, 2, 2, 0),
                       doctest::Contains("concept 4 has 0 items left (of 0 carrying it), needs 2"),
                       Error);
  const Dataset small = multi_label(60, 3, 2);
  CHECK_THROWS_WITH_AS(make_concept_split(small, 5, 30, 0),
                       doctest::Contains("protocol per-concept (train): concept"), Error);
  CHECK_THROWS_WITH_AS(make_concept_split(small, 0, 3, 0),
                       doctest::Contains("query_per_class >= 1"), Error);
}

TEST_CASE("split: nuswide-21 draws 100 query and 500 train items per concept from 21") {
  const Dataset d = multi_label(30000, 21, 4);
  const Split s = make_split("nuswide-21", d, 0);
  CHECK(s.protocol == "nuswide-21");
  CHECK(s.query.size() == 2100);
  CHECK(s.train.size() == 10500);
  CHECK(s.database.size() == 30000 - 2100);
  CHECK(make_split("nuswide-21", d, 0).train == s.train);
  CHECK_THROWS_WITH_AS(make_split("nuswide-21", multi_label(15000, 20, 4), 0),
                       doctest::Contains("nuswide-21 is defined on 21 concepts, dataset 'multi' "
                                         "has 20"),
                       Error);
}

TEST_CASE("split: validation is carved per concept from multi-label training items") {
  const Dataset d = multi_label(400, 6, 5);
  const Split before = make_concept_split(d, 5, 20, 1);
  Split s = before;
  carve_validation(s, d, 3, 1);
  CHECK(s.validation.size() == 6 * 3);
  CHECK(s.train.size() == before.train.size() - 6 * 3);
  for (int c = 0; c < 6; ++c) CHECK(carrying(d, s.validation, c) >= 3);
  CHECK(std::includes(before.train.begin(), before.train.end(), s.validation.begin(),
                      s.validation.end()));
  CHECK(s.query == before.query);
}
