// Binary codes and exact Hamming search, checked against brute force (a stable sort by
// distance, which is the ranking docs/protocol.md defines).
#include <doctest/doctest.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/codes/hamming_search.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "tests/hamming_helpers.h"
#include "tests/helpers.h"

using namespace hamster;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using test::check_same_lists;
using test::random_codes;
using test::random_database_and_queries;
using test::reference_ranking;

void check_knn_against_reference(const BinaryCodes& queries, const BinaryCodes& db, int64_t k,
                                 const HammingKernel& kernel = default_hamming_kernel()) {
  const std::vector<Shortlist> got = hamming_knn(queries, db, k, kernel);
  REQUIRE(static_cast<int64_t>(got.size()) == queries.size());
  for (int64_t q = 0; q < queries.size(); ++q) {
    std::vector<int> dist;
    const std::vector<int64_t> order = reference_ranking(queries.row(q), db, dist);
    REQUIRE(got[q].size() == k);
    for (int64_t r = 0; r < k; ++r) {
      CHECK(got[q].ids[r] == order[r]);
      CHECK(got[q].scores[r] == static_cast<float>(dist[order[r]]));
    }
  }
}

}  // namespace

TEST_CASE("BinaryCodes: constructor rejects bits < 1") {
  CHECK(contains(test::error_message([] { BinaryCodes c(3, 0); }), "bits = 0"));
  const BinaryCodes c(3, 70);
  CHECK(c.size() == 3);
  CHECK(c.words() == 2);
  CHECK(std::all_of(c.data().begin(), c.data().end(), [](uint64_t w) { return w == 0; }));
}

TEST_CASE("BinaryCodes::from_signs packs bit b of a row into word b/64 - bit b%64") {
  Rng rng(7);
  for (int bits : {1, 16, 64, 70, 128, 130}) {
    CAPTURE(bits);
    const int64_t n = 5;
    std::vector<float> values(n * bits);
    for (auto& v : values) {
      const uint64_t r = rng.below(3);
      v = r == 0 ? -1.5f : (r == 1 ? 0.25f : 0.0f);  // zero counts as not positive
    }
    const BinaryCodes c = BinaryCodes::from_signs(values.data(), n, bits);
    REQUIRE(c.size() == n);
    REQUIRE(c.bits() == bits);
    REQUIRE(c.words() == (bits + 63) / 64);
    for (int64_t i = 0; i < n; ++i) {
      for (int b = 0; b < bits; ++b) {
        const bool want = values[i * bits + b] > 0;
        CHECK(c.bit(i, b) == want);
        CHECK(((c.row(i)[b / 64] >> (b % 64)) & 1u) == static_cast<uint64_t>(want));
      }
      // Padding past `bits` stays zero so Hamming distances can popcount whole words.
      if (bits % 64) CHECK((c.row(i)[c.words() - 1] >> (bits % 64)) == 0);
    }
  }
}

TEST_CASE("BinaryCodes::from_signs names the row holding a NaN") {
  std::vector<float> values(4 * 70, 1.0f);
  values[2 * 70 + 69] = std::numeric_limits<float>::quiet_NaN();
  const std::string msg =
      test::error_message([&] { BinaryCodes::from_signs(values.data(), 4, 70); });
  CHECK(contains(msg, "row 2"));
  CHECK(contains(msg, "NaN"));
}

TEST_CASE("BinaryCodes: set_bit - subset and distinct") {
  BinaryCodes c(4, 70);
  c.set_bit(1, 69, true);
  c.set_bit(2, 3, true);
  c.set_bit(3, 69, true);
  CHECK(c.bit(1, 69));
  CHECK(c.row(1)[1] == (uint64_t{1} << 5));
  c.set_bit(2, 3, false);
  CHECK_FALSE(c.bit(2, 3));
  CHECK(contains(test::error_message([&] { c.set_bit(4, 0, true); }), "(4, 0)"));
  CHECK(contains(test::error_message([&] { c.set_bit(0, 70, true); }), "(0, 70)"));

  CHECK(c.distinct() == 2);  // rows 0 and 2 are zero, rows 1 and 3 equal
  c.set_bit(2, 0, true);
  CHECK(c.distinct() == 3);
  CHECK(BinaryCodes().distinct() == 0);

  const BinaryCodes s = c.subset({3, 0, 3});
  CHECK(s.size() == 3);
  CHECK(s.bits() == 70);
  CHECK(s.bit(0, 69));
  CHECK_FALSE(s.bit(1, 69));
  CHECK(s.bit(2, 69));
  CHECK(contains(test::error_message([&] { c.subset({0, 4}); }), "id 4"));
  CHECK(contains(test::error_message([&] { c.subset({-1}); }), "id -1"));
}

TEST_CASE("hamming_distances matches hamming() on every row") {
  Rng rng(11);
  for (int bits : {16, 64, 70, 128, 200}) {
    CAPTURE(bits);
    const auto [db, q] = random_database_and_queries(37, 1, bits, rng);
    std::vector<uint16_t> out(db.size());
    hamming_distances(q.row(0), db, out.data());
    for (int64_t j = 0; j < db.size(); ++j)
      CHECK(out[j] == hamming(q.row(0), db.row(j), db.words()));
  }
}

TEST_CASE("rank_by_distance is a stable sort by distance") {
  const std::vector<uint16_t> dist = {3, 1, 3, 0, 1, 8, 3, 0};
  std::vector<int64_t> order(dist.size());
  rank_by_distance(dist.data(), static_cast<int64_t>(dist.size()), 8, order.data());
  CHECK(order == std::vector<int64_t>{3, 7, 1, 4, 0, 2, 6, 5});

  Rng rng(3);
  std::vector<uint16_t> many(5000);
  for (auto& d : many) d = static_cast<uint16_t>(rng.below(33));
  std::vector<int64_t> got(many.size()), want(many.size());
  rank_by_distance(many.data(), static_cast<int64_t>(many.size()), 32, got.data());
  std::iota(want.begin(), want.end(), int64_t{0});
  std::stable_sort(want.begin(), want.end(),
                   [&](int64_t a, int64_t b) { return many[a] < many[b]; });
  CHECK(got == want);

  CHECK(contains(test::error_message([&] { rank_by_distance(dist.data(), 8, 4, order.data()); }),
                 "distance 8 at index 5"));
}

TEST_CASE("hamming_knn: ties keep database-index order") {
  // One 8-bit query (all zero) and rows whose distances to it are 2 1 2 0 1 2 1.
  BinaryCodes db(7, 8);
  const std::vector<int> weight = {2, 1, 2, 0, 1, 2, 1};
  for (int64_t j = 0; j < db.size(); ++j)
    for (int b = 0; b < weight[j]; ++b) db.set_bit(j, (b * 3 + static_cast<int>(j)) % 8, true);
  const BinaryCodes q(1, 8);

  std::vector<int64_t> ids(7);
  std::vector<int32_t> dist(7);
  hamming_knn(q, db, 4, ids.data(), dist.data());
  CHECK(std::vector<int64_t>(ids.begin(), ids.begin() + 4) == std::vector<int64_t>{3, 1, 4, 6});
  CHECK(std::vector<int32_t>(dist.begin(), dist.begin() + 4) == std::vector<int32_t>{0, 1, 1, 1});

  hamming_knn(q, db, 5, ids.data(), dist.data());
  CHECK(std::vector<int64_t>(ids.begin(), ids.begin() + 5) == std::vector<int64_t>{3, 1, 4, 6, 0});

  hamming_knn(q, db, 7, ids.data(), dist.data());
  CHECK(ids == std::vector<int64_t>{3, 1, 4, 6, 0, 2, 5});
  CHECK(dist == std::vector<int32_t>{0, 1, 1, 1, 2, 2, 2});

  // Every row at the same distance: the first k rows, in order.
  Rng rng(5);
  const BinaryCodes same = random_codes(1, 64, rng).subset(std::vector<int64_t>(20000, 0));
  const std::vector<Shortlist> top = hamming_knn(BinaryCodes(1, 64), same, 300);
  std::vector<int64_t> first(300);
  std::iota(first.begin(), first.end(), int64_t{0});
  CHECK(top[0].ids == first);
}

TEST_CASE("hamming_knn equals brute force") {
  Rng rng(2024);
  for (int bits : {16, 32, 64, 70, 128}) {
    CAPTURE(bits);
    const auto [db, q] = random_database_and_queries(303, 9, bits, rng);
    for (int64_t k : {1, 2, 7, 50, 302, 303}) {
      CAPTURE(k);
      check_knn_against_reference(q, db, k);
    }
  }
}

TEST_CASE("hamming_knn equals brute force on a database larger than one scan slice") {
  Rng rng(99);
  for (int bits : {32, 64, 128, 200}) {
    CAPTURE(bits);
    const auto [db, q] = random_database_and_queries(20011, 5, bits, rng);
    for (int64_t k : {1, 10, 1000}) {
      CAPTURE(k);
      check_knn_against_reference(q, db, k);
    }
  }
  // Few distinct codes: long runs of ties at every distance.
  const BinaryCodes db = random_codes(20011, 64, rng, 6);
  const BinaryCodes q = random_codes(5, 64, rng, 3);
  for (int64_t k : {1, 3000, 20011}) {
    CAPTURE(k);
    check_knn_against_reference(q, db, k);
  }
}

TEST_CASE("hamming_knn: flat outputs are the Shortlists laid end to end") {
  Rng rng(8);
  const BinaryCodes db = random_codes(500, 48, rng);
  const BinaryCodes q = random_codes(17, 48, rng);
  const int64_t k = 25;
  std::vector<int64_t> ids(q.size() * k);
  std::vector<int32_t> dist(q.size() * k);
  hamming_knn(q, db, k, ids.data(), dist.data());
  const std::vector<Shortlist> lists = hamming_knn(q, db, k);
  for (int64_t i = 0; i < q.size(); ++i)
    for (int64_t r = 0; r < k; ++r) {
      CHECK(lists[i].ids[r] == ids[i * k + r]);
      CHECK(lists[i].scores[r] == static_cast<float>(dist[i * k + r]));
    }
  CHECK(hamming_knn(BinaryCodes(0, 48), db, k).empty());
}

TEST_CASE("hamming_knn: all threads give the 1-thread result") {
  Rng rng(31);
  const BinaryCodes db = random_codes(30000, 64, rng, 5000);
  const BinaryCodes q = random_codes(200, 64, rng);
  std::vector<Shortlist> one;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = hamming_knn(q, db, 100);
  }
  check_same_lists(hamming_knn(q, db, 100), one);
}

TEST_CASE("hamming_knn: errors name the problem") {
  Rng rng(1);
  const BinaryCodes db = random_codes(1000, 32, rng);
  const BinaryCodes q = random_codes(2, 32, rng);
  CHECK(contains(test::error_message([&] { hamming_knn(q, db, 5000); }),
                 "k = 5000 is larger than the database (1000 items)"));
  CHECK(contains(test::error_message([&] { hamming_knn(q, db, 0); }), "k = 0 must be at least 1"));
  CHECK(contains(test::error_message([&] { hamming_knn(q, db, -3); }), "k = -3"));
  CHECK(contains(test::error_message([&] { hamming_knn(random_codes(2, 64, rng), db, 5); }),
                 "query codes have 64 bits but database codes have 32"));
  CHECK(contains(test::error_message([&] { hamming_knn(q, BinaryCodes(0, 32), 1); }),
                 "database is empty"));
  std::vector<int64_t> ids(2);
  std::vector<int32_t> dist(2);
  CHECK(contains(test::error_message([&] { hamming_knn(q, db, 1001, ids.data(), dist.data()); }),
                 "larger than the database"));
  CHECK(contains(test::error_message([&] { hamming_radius(random_codes(1, 16, rng), db, 2); }),
                 "query codes have 16 bits"));
}

TEST_CASE("hamming_radius equals brute force") {
  Rng rng(77);
  for (int bits : {16, 64, 70, 128}) {
    CAPTURE(bits);
    const auto [db, q] = random_database_and_queries(2003, 6, bits, rng);
    for (int radius : {-1, 0, 2, bits / 2 - 4, bits / 2, bits, bits + 5}) {
      CAPTURE(radius);
      const std::vector<Shortlist> got = hamming_radius(q, db, radius);
      REQUIRE(static_cast<int64_t>(got.size()) == q.size());
      for (int64_t i = 0; i < q.size(); ++i) {
        std::vector<int> dist;
        const std::vector<int64_t> order = reference_ranking(q.row(i), db, dist);
        std::vector<int64_t> want;
        for (int64_t j : order)
          if (dist[j] <= radius) want.push_back(j);
        CHECK(got[i].ids == want);
        REQUIRE(got[i].scores.size() == want.size());
        for (size_t r = 0; r < want.size(); ++r)
          CHECK(got[i].scores[r] == static_cast<float>(dist[want[r]]));
      }
    }
  }
  // A query equal to a row finds it at radius 0.
  const BinaryCodes db = random_codes(50, 64, rng);
  const std::vector<Shortlist> hit = hamming_radius(db.subset({17}), db, 0);
  CHECK(hit[0].ids == std::vector<int64_t>{17});
}

// ---- Kernels -----------------------------------------------------------------------------

TEST_CASE("Hamming kernels: the scalar one always - names checked") {
  const std::vector<const HammingKernel*>& kernels = supported_hamming_kernels();
  REQUIRE(!kernels.empty());
  CHECK(std::string(kernels.front()->name) == "scalar");
  CHECK(std::string(hamming_kernel("scalar").name) == "scalar");
  for (const HammingKernel* k : kernels) CHECK(&hamming_kernel(k->name) == k);
  CHECK(contains(test::error_message([] { hamming_kernel("sse9"); }),
                 "unknown Hamming kernel 'sse9' (known: scalar, avx2, avx512)"));
  if (kernels.size() < 3)
    CHECK(contains(test::error_message([] { hamming_kernel("avx512"); }),
                   "needs instructions this CPU lacks"));

  {
    const test::ScopedEnv unset("HAMSTER_HAMMING_KERNEL", nullptr);
    CHECK(&default_hamming_kernel() == kernels.back());
  }
  {
    const test::ScopedEnv forced("HAMSTER_HAMMING_KERNEL", "scalar");
    CHECK(std::string(default_hamming_kernel().name) == "scalar");
  }
  {
    const test::ScopedEnv wrong("HAMSTER_HAMMING_KERNEL", "fast");
    CHECK(contains(test::error_message([] { default_hamming_kernel(); }),
                   "HAMSTER_HAMMING_KERNEL: unknown Hamming kernel 'fast'"));
  }
}

TEST_CASE("Hamming kernels: every kernel gives the scalar distances") {
  const HammingKernel& scalar = hamming_kernel("scalar");
  Rng rng(404);
  for (const HammingKernel* kernel : supported_hamming_kernels()) {
    const std::string name = kernel->name;
    CAPTURE(name);
    for (int bits : {1, 16, 24, 40, 64, 70, 128, 200}) {
      CAPTURE(bits);
      for (int64_t n : {1, 7, 8, 9, 1003}) {
        const BinaryCodes db = random_codes(n, bits, rng);
        const BinaryCodes q = random_codes(1, bits, rng);
        std::vector<uint16_t> want(n), got(n + 1, 7777);  // got[n] must stay untouched
        hamming_distances(q.row(0), db, want.data(), scalar);
        hamming_distances(q.row(0), db, got.data(), *kernel);
        CHECK(got[n] == 7777);
        got.pop_back();
        CHECK(got == want);
        for (int64_t j = 0; j < n; ++j)
          REQUIRE(want[j] == hamming(q.row(0), db.row(j), db.words()));
      }
    }
  }
}

TEST_CASE("Hamming kernels: every kernel gives the scalar kNN - ties included") {
  const HammingKernel& scalar = hamming_kernel("scalar");
  Rng rng(505);
  for (int bits : {8, 16, 24, 32, 40, 64, 128}) {
    CAPTURE(bits);
    // Larger than a tile of packed 16-bit codes and no multiple of any block; the second
    // database draws from 40 codes, so every distance is a long run of ties.
    for (int distinct : {0, 40}) {
      CAPTURE(distinct);
      const BinaryCodes db = random_codes(20011, bits, rng, distinct);
      const BinaryCodes q = random_codes(37, bits, rng);
      for (int64_t k : {1, 100, 1001, 20011}) {
        CAPTURE(k);
        std::vector<int64_t> want_ids(q.size() * k);
        std::vector<int32_t> want_dist(q.size() * k);
        hamming_knn(q, db, k, want_ids.data(), want_dist.data(), scalar);
        for (const HammingKernel* kernel : supported_hamming_kernels()) {
          const std::string name = kernel->name;
          CAPTURE(name);
          std::vector<int64_t> ids(q.size() * k, -1);
          std::vector<int32_t> dist(q.size() * k, -1);
          hamming_knn(q, db, k, ids.data(), dist.data(), *kernel);
          CHECK(ids == want_ids);
          CHECK(dist == want_dist);
        }
      }
      // And the scalar kernel itself against brute force, on a few queries.
      check_knn_against_reference(q.subset({0, 1, 2}), db, 1001, scalar);
    }
  }
}

TEST_CASE("Hamming kernels: every kernel gives the scalar radius search") {
  const HammingKernel& scalar = hamming_kernel("scalar");
  Rng rng(606);
  for (int bits : {16, 24, 32, 64, 128}) {
    CAPTURE(bits);
    const BinaryCodes db = random_codes(5003, bits, rng, 300);
    const BinaryCodes q = random_codes(19, bits, rng);
    for (int radius : {0, 2, bits / 2 - 2, bits}) {
      CAPTURE(radius);
      const std::vector<Shortlist> want = hamming_radius(q, db, radius, scalar);
      for (const HammingKernel* kernel : supported_hamming_kernels()) {
        const std::string name = kernel->name;
        CAPTURE(name);
        check_same_lists(hamming_radius(q, db, radius, *kernel), want);
      }
    }
  }
}

TEST_CASE("hamming_knn: few queries split the database between threads - same result") {
  // Four threads and one or three queries: the database is cut into ranges searched in
  // parallel and merged. k runs from one to more than a range holds.
  Rng rng(707);
  const BinaryCodes db = random_codes(200003, 32, rng, 3000);
  for (int64_t nq : {1, 3}) {
    CAPTURE(nq);
    const BinaryCodes q = random_codes(nq, 32, rng);
    for (int64_t k : {1, 100, 150000}) {
      CAPTURE(k);
      std::vector<Shortlist> one, four;
      {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
        one = hamming_knn(q, db, k);
      }
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 4);
      tbb::task_arena arena(4);
      arena.execute([&] { four = hamming_knn(q, db, k); });
      check_same_lists(four, one);
      if (k == 100) {
        arena.execute([&] { check_knn_against_reference(q, db, k); });
        std::vector<Shortlist> within;
        arena.execute([&] { within = hamming_radius(q, db, 9); });
        const std::vector<Shortlist> alone = hamming_radius(q, db, 9);
        for (int64_t i = 0; i < nq; ++i) CHECK(within[i].ids == alone[i].ids);
      }
    }
  }
}
