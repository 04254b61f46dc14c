// The distinct-code path of exact Hamming kNN: distinct codes and their posting lists,
// and a search over them that returns exactly the plain scan's ids and distances.
#include <doctest/doctest.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <string>
#include <vector>

#include "framework/codes/distinct_codes.h"
#include "framework/codes/hamming_search.h"
#include "tests/hamming_helpers.h"
#include "tests/helpers.h"

using namespace hamster;

namespace {

struct Knn {
  std::vector<int64_t> ids;
  std::vector<int32_t> distances;
};

Knn knn(const BinaryCodes& q, const BinaryCodes& db, int64_t k, KnnPath path) {
  Knn out{std::vector<int64_t>(q.size() * k, -1), std::vector<int32_t>(q.size() * k, -1)};
  hamming_knn(q, db, k, out.ids.data(), out.distances.data(), default_hamming_kernel(), path);
  return out;
}

// 8-bit codes written as numbers (bit b of the code = bit b of v).
BinaryCodes codes8(const std::vector<int>& values) {
  BinaryCodes c(static_cast<int64_t>(values.size()), 8);
  for (size_t i = 0; i < values.size(); ++i) c.row(static_cast<int64_t>(i))[0] = values[i];
  return c;
}

}  // namespace

TEST_CASE("DistinctCodes: codes by first appearance - posting lists ascending") {
  const DistinctCodes d(codes8({5, 9, 5, 9, 9, 3, 5}));
  REQUIRE(d.size() == 3);
  CHECK(d.database_size() == 7);
  CHECK(d.bits() == 8);
  CHECK(d.codes().row(0)[0] == 5);
  CHECK(d.codes().row(1)[0] == 9);
  CHECK(d.codes().row(2)[0] == 3);
  CHECK(std::vector<int64_t>(d.rows_begin(0), d.rows_end(0)) == std::vector<int64_t>{0, 2, 6});
  CHECK(std::vector<int64_t>(d.rows_begin(1), d.rows_end(1)) == std::vector<int64_t>{1, 3, 4});
  CHECK(std::vector<int64_t>(d.rows_begin(2), d.rows_end(2)) == std::vector<int64_t>{5});
  CHECK(d.count(1) == 3);

  // Codes of several words are told apart by every word.
  BinaryCodes wide(4, 130);
  wide.set_bit(1, 129, true);
  wide.set_bit(3, 129, true);
  wide.set_bit(2, 0, true);
  const DistinctCodes w(wide);
  CHECK(w.size() == 3);
  CHECK(std::vector<int64_t>(w.rows_begin(1), w.rows_end(1)) == std::vector<int64_t>{1, 3});
}

TEST_CASE("DistinctCodes::at_most gives up past the limit") {
  const BinaryCodes db = codes8({1, 2, 1, 3, 2, 4});
  CHECK(!DistinctCodes::at_most(db, 3).has_value());
  const auto four = DistinctCodes::at_most(db, 4);
  REQUIRE(four.has_value());
  CHECK(four->size() == 4);
  CHECK(DistinctCodes::at_most(BinaryCodes(0, 8), 0)->size() == 0);
}

TEST_CASE("hamming_knn distinct path: ties across codes are merged by row - not by code") {
  // Code 0b11 holds rows 0 and 5, code 0b101 rows 1 and 2; both are 2 from the query 0,
  // and row 3 (code 0b1) is 1 from it. By code order the distance-2 rows would read
  // 0 5 1 2; the ranking of docs/protocol.md reads 0 1 2 5.
  const BinaryCodes db = codes8({3, 5, 5, 1, 255, 3});
  const BinaryCodes q(1, 8);
  for (KnnPath path : {KnnPath::scan, KnnPath::distinct, KnnPath::automatic}) {
    CAPTURE(knn_path_name(path));
    const Knn all = knn(q, db, 6, path);
    CHECK(all.ids == std::vector<int64_t>{3, 0, 1, 2, 5, 4});
    CHECK(all.distances == std::vector<int32_t>{1, 2, 2, 2, 2, 8});
    const Knn three = knn(q, db, 3, path);
    CHECK(three.ids == std::vector<int64_t>{3, 0, 1});
  }
}

TEST_CASE("hamming_knn distinct path equals the scan at 16 32 and 64 bits") {
  Rng rng(4242);
  for (int bits : {16, 32, 64}) {
    CAPTURE(bits);
    for (int distinct : {7, 300}) {
      CAPTURE(distinct);
      const BinaryCodes db = test::random_codes(5003, bits, rng, distinct);
      // Half the queries are database codes (distance 0 ties), half random; enough of
      // them for the automatic path to take the distinct codes.
      BinaryCodes q = test::random_codes(130, bits, rng);
      for (int64_t i = 0; i < 65; ++i)
        std::copy_n(db.row(static_cast<int64_t>(rng.below(db.size()))), db.words(), q.row(i));
      // k = 1, inside one posting list, past the distinct count, most and all of the rows.
      for (int64_t k : {1, 5, 50, 301, 4000, 5003}) {
        CAPTURE(k);
        const Knn scan = knn(q, db, k, KnnPath::scan);
        const Knn distinct_path = knn(q, db, k, KnnPath::distinct);
        CHECK(distinct_path.ids == scan.ids);
        CHECK(distinct_path.distances == scan.distances);
        const Knn automatic = knn(q, db, k, KnnPath::automatic);
        CHECK(automatic.ids == scan.ids);
        CHECK(automatic.distances == scan.distances);
      }
    }
  }
  // The scan itself against brute force on a few of those shapes.
  const BinaryCodes db = test::random_codes(2001, 32, rng, 40);
  const BinaryCodes q = test::random_codes(3, 32, rng);
  const Knn got = knn(q, db, 2001, KnnPath::distinct);
  for (int64_t i = 0; i < q.size(); ++i) {
    std::vector<int> dist;
    const std::vector<int64_t> order = test::reference_ranking(q.row(i), db, dist);
    CHECK(std::vector<int64_t>(got.ids.begin() + i * 2001, got.ids.begin() + (i + 1) * 2001) ==
          order);
  }
}

TEST_CASE("hamming_knn distinct path: clustered codes - prebuilt distinct codes - all threads") {
  Rng rng(17);
  const BinaryCodes db = test::clustered_codes(30011, 64, rng, 12, 0.03);
  const BinaryCodes q = test::clustered_codes(300, 64, rng, 12, 0.03);
  const DistinctCodes distinct(db);
  CHECK(distinct.size() < db.size());
  for (int64_t k : {1, 100, 1000}) {
    CAPTURE(k);
    Knn one;
    {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
      one = knn(q, db, k, KnnPath::scan);
    }
    Knn four{std::vector<int64_t>(q.size() * k), std::vector<int32_t>(q.size() * k)};
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 4);
    tbb::task_arena arena(4);
    arena.execute([&] { hamming_knn(q, distinct, k, four.ids.data(), four.distances.data()); });
    CHECK(four.ids == one.ids);
    CHECK(four.distances == one.distances);
  }
}

TEST_CASE("hamming_knn distinct path: errors name the problem") {
  Rng rng(3);
  const BinaryCodes db = test::random_codes(100, 32, rng, 10);
  const DistinctCodes distinct(db);
  std::vector<int64_t> ids(101);
  std::vector<int32_t> dist(101);
  CHECK(test::error_message([&] {
          hamming_knn(db.subset({0}), distinct, 101, ids.data(), dist.data());
        }).find("k = 101 is larger than the database (100 items)") != std::string::npos);
  CHECK(test::error_message([&] {
          hamming_knn(test::random_codes(1, 64, rng), distinct, 1, ids.data(), dist.data());
        }).find("query codes have 64 bits but database codes have 32") != std::string::npos);
  CHECK(test::error_message([&] {
          knn(db.subset({0}), db, 0, KnnPath::distinct);
        }).find("k = 0 must be at least 1") != std::string::npos);
  CHECK(knn_path("distinct") == KnnPath::distinct);
  CHECK(knn_path("scan") == KnnPath::scan);
  CHECK(test::error_message([] { knn_path("fast"); }) ==
        "unknown Hamming kNN path 'fast' (known: automatic, scan, distinct)");
}
