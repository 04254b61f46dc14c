// Stage 1 as a plugin (framework/stage1.h): every registered search returns exactly the
// brute-force ranking's first L ids and distances (docs/protocol.md: ties in database order),
// `automatic` says which path it took, and a config names an unknown search in its error.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/stage1.h"
#include "tests/hamming_helpers.h"

using namespace hamster;

namespace {

// The first L of the brute-force ranking, as a Shortlist per query.
std::vector<Shortlist> reference(const BinaryCodes& q, const BinaryCodes& db, int64_t L) {
  std::vector<Shortlist> out(q.size());
  std::vector<int> dist;
  for (int64_t i = 0; i < q.size(); ++i) {
    const std::vector<int64_t> order = test::reference_ranking(q.row(i), db, dist);
    for (int64_t r = 0; r < L; ++r) {
      out[i].ids.push_back(order[r]);
      out[i].scores.push_back(static_cast<float>(dist[order[r]]));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("stage1: every registered search gives the brute-force shortlist, ties in order") {
  const std::vector<std::string> names = stage1_names();
  CHECK(names == std::vector<std::string>{"automatic", "distinct", "mih", "scan"});
  Rng rng(7);
  struct Case {
    const char* what;
    BinaryCodes db, queries;
  };
  // Learned-like codes (few distinct, long ties), random codes, and codes over two words.
  std::vector<Case> cases;
  cases.push_back({"repeated 32-bit", test::random_codes(3000, 32, rng, 40),
                   test::random_codes(150, 32, rng, 40)});
  cases.push_back(
      {"random 16-bit", test::random_codes(3000, 16, rng), test::random_codes(20, 16, rng)});
  cases.push_back({"clustered 96-bit", test::clustered_codes(2000, 96, rng, 12, 0.05),
                   test::clustered_codes(130, 96, rng, 12, 0.05)});
  for (const Case& c : cases) {
    for (int64_t L : {1, 37, 500}) {
      const std::vector<Shortlist> want = reference(c.queries, c.db, L);
      for (const std::string& name : names) {
        CAPTURE(c.what);
        CAPTURE(L);
        CAPTURE(name);
        const Stage1Run run = run_stage1(name, c.queries, c.db, L);
        REQUIRE(run.lists.size() == want.size());
        int same = 0;
        for (size_t i = 0; i < want.size(); ++i)
          same += run.lists[i].ids == want[i].ids && run.lists[i].scores == want[i].scores;
        CHECK(same == static_cast<int>(want.size()));
        CHECK(run.us_per_query > 0);
        if (name != "automatic") CHECK(run.ran == name);
      }
    }
  }
}

TEST_CASE("stage1: automatic takes the distinct codes for many queries over repeated codes") {
  Rng rng(3);
  const BinaryCodes repeated = test::random_codes(5000, 32, rng, 50);
  const BinaryCodes random = test::random_codes(5000, 32, rng);
  CHECK(run_stage1("automatic", test::random_codes(200, 32, rng, 50), repeated, 10).ran ==
        "distinct");
  // Too few queries to pay for collecting the distinct codes; codes that do not repeat.
  CHECK(run_stage1("automatic", test::random_codes(20, 32, rng, 50), repeated, 10).ran == "scan");
  CHECK(run_stage1("automatic", test::random_codes(200, 32, rng), random, 10).ran == "scan");
  CHECK_THROWS_WITH_AS(run_stage1("lsh", random, random, 1),
                       "unknown plugin 'lsh' (known: automatic, distinct, mih, scan)", Error);
}

TEST_CASE("stage1: the config chooses the search by name - an unknown one is named") {
  const std::string rest = "hashers: [lsh]\nrerankers: [none]\n";
  CHECK(parse_config("name: t\n" + rest, "c.yaml").stage1 == "automatic");
  CHECK(parse_config("name: t\nstage1: mih\n" + rest, "c.yaml").stage1 == "mih");
  CHECK_THROWS_WITH_AS(parse_config("name: t\nstage1: mhi\n" + rest, "c.yaml"),
                       "c.yaml: stage1: unknown search 'mhi' (known: automatic, distinct, mih, "
                       "scan)",
                       Error);
}
