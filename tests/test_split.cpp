// The splits of docs/protocol.md on small generated datasets, and the seeded generator.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

// A dataset of 1x1 images with per_class[c] items of class c, the classes interleaved so
// that index order and class order differ.
Dataset with_class_sizes(const std::vector<int>& per_class) {
  Dataset d;
  d.name = "sizes";
  d.channels = d.height = d.width = 1;
  std::vector<int> left = per_class;
  for (bool any = true; any;) {
    any = false;
    for (size_t c = 0; c < left.size(); ++c)
      if (left[c] > 0) {
        --left[c], any = true;
        d.labels.push_back(LabelSet::of(static_cast<int>(c)));
        d.pixels.push_back(static_cast<uint8_t>(c));
      }
  }
  for (size_t c = 0; c < per_class.size(); ++c) d.class_names.push_back("c" + std::to_string(c));
  d.official_train_size = d.size();
  return d;
}

std::map<int, int> count_per_class(const Dataset& d, const std::vector<int64_t>& ids) {
  std::map<int, int> counts;
  for (int64_t i : ids) ++counts[d.single_label(i)];
  return counts;
}

bool ascending_unique(const std::vector<int64_t>& ids) {
  return std::adjacent_find(ids.begin(), ids.end(), [](int64_t a, int64_t b) { return a >= b; }) ==
         ids.end();
}

bool disjoint(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  return both.empty();
}

std::vector<int64_t> merged(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> out;
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// The checks every stratified split must pass.
void check_stratified(const Dataset& d, const Split& s, int query_per_class, int train_per_class,
                      bool database_includes_train) {
  CHECK(ascending_unique(s.query));
  CHECK(ascending_unique(s.train));
  CHECK(ascending_unique(s.database));
  CHECK(disjoint(s.query, s.train));
  CHECK(disjoint(s.query, s.database));
  const std::vector<int64_t> all = test::iota_ids(d.size());
  if (database_includes_train) {
    CHECK(std::includes(s.database.begin(), s.database.end(), s.train.begin(), s.train.end()));
    CHECK(merged(s.query, s.database) == all);
  } else {
    CHECK(disjoint(s.train, s.database));
    CHECK(merged(merged(s.query, s.train), s.database) == all);
  }
  const int classes = static_cast<int>(d.class_names.size());
  const auto q = count_per_class(d, s.query), t = count_per_class(d, s.train);
  CHECK(q.size() == static_cast<size_t>(classes));
  for (const auto& [c, n] : q) CHECK(n == query_per_class);
  for (const auto& [c, n] : t) CHECK(n == train_per_class);
  CHECK(s.query.size() == static_cast<size_t>(classes * query_per_class));
  CHECK(s.train.size() == static_cast<size_t>(classes * train_per_class));
}

}  // namespace

TEST_CASE("split: stratified draws are disjoint - sized per class - database as asked") {
  const Dataset d = with_class_sizes({12, 15, 9, 20});
  for (bool includes_train : {true, false}) {
    CAPTURE(includes_train);
    const Split s = make_stratified_split(d, 2, 5, includes_train, 7);
    CHECK(s.protocol == "stratified");
    CHECK(s.seed == 7);
    check_stratified(d, s, 2, 5, includes_train);
    CHECK(s.database.size() == (includes_train ? 56u - 8u : 56u - 8u - 20u));
  }
  // Using a class to the last item is allowed.
  check_stratified(d, make_stratified_split(d, 4, 5, false, 1), 4, 5, false);
}

TEST_CASE("split: same seed - same split - another seed - another split") {
  const Dataset d = test::synthetic_images(30, 5, 3, 4);
  const Split a = make_stratified_split(d, 3, 10, true, 42);
  const Split b = make_stratified_split(d, 3, 10, true, 42);
  const Split c = make_stratified_split(d, 3, 10, true, 43);
  CHECK(a.query == b.query);
  CHECK(a.train == b.train);
  CHECK(a.database == b.database);
  CHECK(a.query != c.query);
  CHECK(a.train != c.train);
  check_stratified(d, c, 3, 10, true);
}

TEST_CASE("split: the named protocols use 100 query and 500 train items per class") {
  const Dataset d = with_class_sizes(std::vector<int>(10, 610));
  const Split f1 = make_split("fmnist-1", d, 5);
  CHECK(f1.protocol == "fmnist-1");
  check_stratified(d, f1, 100, 500, true);
  CHECK(f1.database.size() == 6100 - 1000);

  const Split c1 = make_split("cifar10-1", d, 5);
  check_stratified(d, c1, 100, 500, true);
  CHECK(c1.query == f1.query);  // the same draw under another dataset's name

  const Split c = make_split("cifar10", d, 5);
  check_stratified(d, c, 100, 500, false);
  CHECK(c.database.size() == 100);

  const std::vector<std::string> names = split_protocols();
  CHECK(names == std::vector<std::string>{"fmnist-1", "fmnist-2", "cifar10", "cifar10-1",
                                          "cifar10-2", "nuswide-21", "fmnist-mosaic"});
}

TEST_CASE("split: fmnist-2 and cifar10-2 follow the official train/test division") {
  Dataset d = test::synthetic_images(3, 10, 4, 2);
  d.official_train_size = 20;
  for (const char* protocol : {"fmnist-2", "cifar10-2"}) {
    CAPTURE(protocol);
    const Split s = make_split(protocol, d, 99);
    CHECK(s.protocol == protocol);
    CHECK(s.query == std::vector<int64_t>{20, 21, 22, 23, 24, 25, 26, 27, 28, 29});
    CHECK(s.train == test::iota_ids(20));
    CHECK(s.database == test::iota_ids(20));
    // No randomness: the seed changes nothing.
    CHECK(make_split(protocol, d, 1).query == s.query);
  }
  d.official_train_size = d.size();
  CHECK_THROWS_WITH_AS(make_split("fmnist-2", d, 0),
                       doctest::Contains("official_train_size 30 of 30 items"), Error);
}

TEST_CASE("split: unknown protocols and datasets too small are refused") {
  CHECK_THROWS_WITH_AS(make_split("fmnist-3", with_class_sizes({5, 5}), 0),
                       doctest::Contains("unknown split protocol 'fmnist-3' (known: fmnist-1, "
                                         "fmnist-2, cifar10, cifar10-1, cifar10-2, nuswide-21, "
                                         "fmnist-mosaic)"),
                       Error);

  std::vector<int> sizes(10, 600);
  sizes[3] = 40;
  CHECK_THROWS_WITH_AS(make_split("fmnist-1", with_class_sizes(sizes), 0),
                       doctest::Contains("class 3 has 40 items, protocol fmnist-1 needs 600"),
                       Error);
  // A class with no items at all is reported too.
  CHECK_THROWS_WITH_AS(make_stratified_split(with_class_sizes({4, 0, 4}), 1, 1, true, 0),
                       doctest::Contains("class 1 has 0 items, protocol stratified needs 2"),
                       Error);
  CHECK_THROWS_WITH_AS(make_stratified_split(with_class_sizes({4, 4}), 0, 1, true, 0),
                       doctest::Contains("query_per_class >= 1"), Error);

  Dataset multi = with_class_sizes({4, 4});
  multi.labels[5].set(1 - multi.single_label(5));
  CHECK_THROWS_WITH_AS(make_stratified_split(multi, 1, 1, true, 0),
                       doctest::Contains("item 5 has 2 labels"), Error);
}

TEST_CASE("split: save_split writes every role - atomically") {
  const fs::path dir = test::fresh_temp_dir("save-split");
  const fs::path file = dir / "split.txt";
  const Split s = make_stratified_split(with_class_sizes({6, 7, 8}), 1, 2, false, 11);
  std::ofstream(file) << "an older split\n";
  save_split(s, file);

  CHECK_FALSE(fs::exists(dir / "split.txt.tmp"));
  std::ifstream in(file);
  std::map<std::string, std::vector<int64_t>> roles;
  std::map<std::string, std::string> fields;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "protocol" || key == "seed") {
      words >> fields[key];
      continue;
    }
    std::vector<int64_t>& ids = roles[key];
    for (int64_t i; words >> i;) ids.push_back(i);
  }
  CHECK(fields["protocol"] == "stratified");
  CHECK(fields["seed"] == "11");
  CHECK(roles.size() == 3);
  CHECK(roles["query"] == s.query);
  CHECK(roles["train"] == s.train);
  CHECK(roles["database"] == s.database);

  CHECK_THROWS_WITH_AS(save_split(s, dir / "no-such-dir" / "split.txt"),
                       doctest::Contains("no-such-dir"), Error);
  fs::remove_all(dir);
}

TEST_CASE("rng: normal draws are standard normal and reproducible") {
  Rng a(2024), b(2024);
  double sum = 0, sum_sq = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double x = a.normal();
    REQUIRE(x == b.normal());
    REQUIRE(std::isfinite(x));
    sum += x, sum_sq += x * x;
  }
  CHECK(std::abs(sum / n) < 0.03);
  CHECK(std::abs(sum_sq / n - 1.0) < 0.05);

  // shuffle permutes: same elements, new order.
  const std::vector<int64_t> identity = test::iota_ids(50);
  std::vector<int64_t> v = identity;
  shuffle(v, a);
  CHECK(v != identity);
  std::sort(v.begin(), v.end());
  CHECK(v == identity);
}

TEST_CASE("split: the validation split is carved from the training items per class") {
  const Dataset d = with_class_sizes({12, 15, 9, 20});
  const Split before = make_stratified_split(d, 2, 5, true, 7);
  Split s = before;
  carve_validation(s, d, 2, 7);
  CHECK(s.query == before.query);  // the queries and the database are untouched
  CHECK(s.database == before.database);
  REQUIRE(s.validation.size() == 8);
  CHECK(s.train.size() == 12);
  std::vector<int> per_class(4, 0);
  for (int64_t i : s.validation) {
    ++per_class[d.single_label(i)];
    CHECK(std::binary_search(before.train.begin(), before.train.end(), i));
    CHECK_FALSE(std::binary_search(s.train.begin(), s.train.end(), i));
  }
  CHECK(per_class == std::vector<int>{2, 2, 2, 2});
  CHECK(std::is_sorted(s.validation.begin(), s.validation.end()));
  Split again = before;
  carve_validation(again, d, 2, 7);
  CHECK(again.validation == s.validation);  // seeded
  Split none = before;
  carve_validation(none, d, 0, 7);
  CHECK(none.validation.empty());
  CHECK(none.train == before.train);
  Split all = before;
  CHECK_THROWS_WITH_AS(carve_validation(all, d, 5, 7),
                       doctest::Contains("has 5 training items; cannot set 5 aside"), Error);
}
