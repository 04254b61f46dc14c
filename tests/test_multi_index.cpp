// Multi-index hashing: exact kNN and radius search, checked against the scan of
// hamming_search.h (same ids, same distances, ties in row order).
#include <doctest/doctest.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <string>
#include <vector>

#include "framework/codes/hamming_search.h"
#include "framework/codes/multi_index.h"
#include "tests/hamming_helpers.h"
#include "tests/helpers.h"

using namespace hamster;

namespace {

// Queries: half copies of database rows with a few bits flipped (near neighbours, the
// case MIH is for), half drawn like the database.
BinaryCodes queries_near(const BinaryCodes& db, const BinaryCodes& far, Rng& rng) {
  BinaryCodes q = far;
  for (int64_t i = 0; i < q.size() / 2; ++i) {
    std::copy_n(db.row(static_cast<int64_t>(rng.below(db.size()))), db.words(), q.row(i));
    for (int flips = static_cast<int>(rng.below(4)); flips > 0; --flips) {
      const int b = static_cast<int>(rng.below(db.bits()));
      q.set_bit(i, b, !q.bit(i, b));
    }
  }
  return q;
}

}  // namespace

TEST_CASE("SubstringTable: substrings across word boundaries - buckets in code order") {
  // Bits 60..67 of 128-bit codes straddle the first two words.
  BinaryCodes codes(4, 128);
  for (int b : {60, 63, 64, 67}) codes.set_bit(0, b, true);
  for (int b : {60, 63, 64, 67}) codes.set_bit(2, b, true);
  codes.set_bit(1, 59, true);  // outside bits 60..67: value 0 there
  codes.set_bit(3, 66, true);
  const auto bucket = [](const SubstringTable& t, uint64_t value) {
    const SubstringTable::Bucket b = t.lookup(value);
    return std::vector<uint32_t>(b.codes, b.codes + b.size);
  };
  // 8 bits for 4 codes: a hashed table.
  const SubstringTable t(codes, 60, 8);
  CHECK(t.of(codes.row(0)) == 0b10011001u);
  CHECK(t.of(codes.row(1)) == 0u);
  CHECK(t.of(codes.row(3)) == 0b01000000u);
  CHECK(bucket(t, 0b10011001u) == std::vector<uint32_t>{0, 2});
  CHECK(bucket(t, 0b11111111u).empty());
  // A bucket carries its codes' rows, in the same order.
  const SubstringTable::Bucket b = t.lookup(0);
  REQUIRE(b.size == 1);
  CHECK(b.codes[0] == 1);
  CHECK(std::vector<uint64_t>(b.rows, b.rows + 2) ==
        std::vector<uint64_t>(codes.row(1), codes.row(1) + 2));
  // 6 bits: a dense table; bit 66 of row 3 falls outside it.
  const SubstringTable six(codes, 60, 6);
  CHECK(bucket(six, 0) == std::vector<uint32_t>{1, 3});
  CHECK(bucket(six, 0b011001u) == std::vector<uint32_t>{0, 2});
  CHECK(bucket(six, 0b111111u).empty());
  // 40 bits, across the words.
  const SubstringTable wide(codes, 40, 40);
  CHECK(bucket(wide, wide.of(codes.row(2))) == std::vector<uint32_t>{0, 2});
  CHECK(bucket(wide, uint64_t{1} << 19) == std::vector<uint32_t>{1});  // row 1's bit 59
  CHECK(bucket(wide, 12345).empty());
}

TEST_CASE("MultiIndexHashing: substrings chosen from the distinct codes - errors named") {
  Rng rng(1);
  const BinaryCodes db = test::random_codes(4096, 64, rng);
  // log2(4096) = 12 bits per substring: 64 / 12 rounds to 5 tables.
  CHECK(MultiIndexHashing(db).substrings() == 5);
  CHECK(MultiIndexHashing(db, 2).substrings() == 2);
  CHECK(MultiIndexHashing(db).size() == 4096);
  CHECK(test::error_message([&] {
          MultiIndexHashing(db, 65);
        }).find("65 substrings of 64-bit codes") != std::string::npos);
  CHECK(test::error_message([] {
          MultiIndexHashing(BinaryCodes(0, 32));
        }).find("the database is empty") != std::string::npos);
  const MultiIndexHashing index(db);
  std::vector<int64_t> ids(5000);
  std::vector<int32_t> dist(5000);
  CHECK(test::error_message([&] {
          index.knn(db.subset({0}), 4097, ids.data(), dist.data());
        }).find("k = 4097 is larger than the database (4096 items)") != std::string::npos);
  CHECK(test::error_message([&] {
          index.knn(db.subset({0}), 0, ids.data(), dist.data());
        }).find("k = 0 must be at least 1") != std::string::npos);
  CHECK(test::error_message([&] {
          index.radius(test::random_codes(1, 32, rng), 3);
        }).find("query codes have 32 bits but database codes have 64") != std::string::npos);
}

TEST_CASE("MultiIndexHashing: kNN equals the scan at 32 and 64 bits - random and clustered") {
  Rng rng(2012);
  for (int bits : {32, 64}) {
    CAPTURE(bits);
    for (const bool clustered : {false, true}) {
      CAPTURE(clustered);
      const BinaryCodes db = clustered ? test::clustered_codes(6007, bits, rng, 8, 0.04)
                                       : test::random_codes(6007, bits, rng);
      const BinaryCodes q = queries_near(db,
                                         clustered ? test::clustered_codes(40, bits, rng, 8, 0.04)
                                                   : test::random_codes(40, bits, rng),
                                         rng);
      for (int m : {0, 1, 3, 5}) {
        CAPTURE(m);
        const MultiIndexHashing index(db, m);
        // Every query probed to the end too, where substrings are short enough for far
        // queries to finish (a 64-bit substring's balls would not).
        const bool short_substrings = bits / index.substrings() <= 16;
        const MultiIndexHashing probed(db, m, !short_substrings);
        for (int64_t k : {1, 10, 100, 1000}) {
          CAPTURE(k);
          const std::vector<Shortlist> want =
              hamming_knn(q, db, k, default_hamming_kernel(), KnnPath::scan);
          test::check_same_lists(probed.knn(q, k), want);
          test::check_same_lists(index.knn(q, k), want);
        }
      }
    }
  }
}

TEST_CASE("MultiIndexHashing: ties across codes in row order - k past the distinct codes") {
  Rng rng(99);
  // 40 distinct codes over 3001 rows: long ties at every distance, and k beyond both the
  // distinct count and most of the database.
  const BinaryCodes db = test::random_codes(3001, 32, rng, 40);
  const BinaryCodes q = queries_near(db, test::random_codes(20, 32, rng), rng);
  const MultiIndexHashing index(db, 2, false);
  for (int64_t k : {1, 39, 41, 2500, 3001}) {
    CAPTURE(k);
    test::check_same_lists(index.knn(q, k),
                           hamming_knn(q, db, k, default_hamming_kernel(), KnnPath::scan));
  }
  // With the default budget 40 distinct codes are cheaper to scan than to probe: every
  // query goes to the scan, with the same results.
  MultiIndexHashing::Work scanned;
  const MultiIndexHashing thrifty(db, 2);
  std::vector<int64_t> ids41(q.size() * 41);
  std::vector<int32_t> dist41(q.size() * 41);
  thrifty.knn(q, 41, ids41.data(), dist41.data(), &scanned);
  CHECK(scanned.scanned_queries == q.size());
  CHECK(scanned.probes == 0);
  const std::vector<Shortlist> want41 = hamming_knn(q, db, 41);
  for (int64_t i = 0; i < q.size(); ++i)
    CHECK(std::vector<int64_t>(ids41.begin() + i * 41, ids41.begin() + (i + 1) * 41) ==
          want41[i].ids);
  // Radius search there too goes to the scan of the distinct codes, then expands them.
  for (int radius : {0, 3, 12}) {
    CAPTURE(radius);
    test::check_same_lists(thrifty.radius(q, radius), hamming_radius(q, db, radius));
    test::check_same_lists(index.radius(q, radius), hamming_radius(q, db, radius));
  }
  MultiIndexHashing::Work work;
  std::vector<int64_t> ids(q.size());
  std::vector<int32_t> dist(q.size());
  index.knn(q, 1, ids.data(), dist.data(), &work);
  CHECK(work.verified > 0);
  // A code sits in one bucket per table and each bucket is probed at most once per query.
  CHECK(work.verified <= q.size() * 40 * 2);
}

TEST_CASE("MultiIndexHashing: radius search equals the scan") {
  Rng rng(7);
  for (int bits : {32, 64}) {
    CAPTURE(bits);
    const BinaryCodes db = test::clustered_codes(4001, bits, rng, 6, 0.05);
    const BinaryCodes q = queries_near(db, test::random_codes(30, bits, rng), rng);
    const MultiIndexHashing probed(db, 0, false);
    const MultiIndexHashing index(db);
    for (int radius : {-1, 0, 1, 2, 3, 7, bits / 2, bits}) {
      CAPTURE(radius);
      const std::vector<Shortlist> want = hamming_radius(q, db, radius);
      test::check_same_lists(probed.radius(q, radius), want);
      test::check_same_lists(index.radius(q, radius), want);
    }
  }
}

TEST_CASE("MultiIndexHashing: near queries probe - far ones scan the distinct codes") {
  Rng rng(5);
  const BinaryCodes db = test::random_codes(20000, 64, rng);
  const MultiIndexHashing index(db, 4);
  // A database row as the query: its own code is found at radius 0 by its first probe.
  MultiIndexHashing::Work near;
  std::vector<int64_t> ids(1);
  std::vector<int32_t> dist(1);
  index.knn(db.subset({123}), 1, ids.data(), dist.data(), &near);
  CHECK(ids[0] == 123);
  CHECK(dist[0] == 0);
  CHECK(near.scanned_queries == 0);
  CHECK(near.verified < 100);
  // The complement of a row is far from everything: the ball to enumerate outgrows the
  // distinct codes and the query scans them, with the same answer as the scan.
  BinaryCodes far = db.subset({123});
  far.row(0)[0] = ~far.row(0)[0];
  MultiIndexHashing::Work work;
  std::vector<int64_t> far_ids(10);
  std::vector<int32_t> far_dist(10);
  index.knn(far, 10, far_ids.data(), far_dist.data(), &work);
  CHECK(work.scanned_queries == 1);
  const std::vector<Shortlist> want = hamming_knn(far, db, 10);
  CHECK(far_ids == want[0].ids);
}

TEST_CASE("MultiIndexHashing: all threads give the 1-thread result") {
  Rng rng(31);
  const BinaryCodes db = test::clustered_codes(20000, 64, rng, 10, 0.03);
  const BinaryCodes q = queries_near(db, test::clustered_codes(200, 64, rng, 10, 0.03), rng);
  const MultiIndexHashing index(db, 0, false);
  std::vector<Shortlist> one, four;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = index.knn(q, 100);
  }
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 4);
  tbb::task_arena arena(4);
  arena.execute([&] { four = index.knn(q, 100); });
  test::check_same_lists(four, one);
  test::check_same_lists(one, hamming_knn(q, db, 100, default_hamming_kernel(), KnnPath::scan));
}
