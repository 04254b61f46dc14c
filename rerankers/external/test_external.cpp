// The external re-ranker: the numpy alpha_qe example ranks as the C++ alpha_qe does, and a
// command's wrong output (shape, duplicate or foreign id, padding, exit status, no file)
// is an error that names it.
#include <doctest/doctest.h>

#include <filesystem>
#include <numeric>
#include <random>
#include <string>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "tests/rerank_helpers.h"

using namespace hamster;
using namespace hamster::test;

namespace {

const std::string kPython = "/usr/bin/python3";

// Points around `classes` random centres; label = centre.
Embedding clustered(int n, int dims, int classes, uint32_t seed, std::vector<int>& labels) {
  const Embedding centres = gaussian_points(classes, dims, 1234);
  Embedding noise = gaussian_points(n, dims, seed);
  labels.resize(n);
  for (int i = 0; i < n; ++i) {
    labels[i] = i % classes;
    noise.row(i) = centres.row(labels[i]) + 0.9f * noise.row(i);
  }
  return noise;
}

double mean_average_precision(const std::vector<Shortlist>& lists, const std::vector<int>& db,
                              const std::vector<int>& queries) {
  double sum = 0;
  for (size_t q = 0; q < lists.size(); ++q) {
    std::vector<uint8_t> rel;
    for (int64_t id : lists[q].ids) rel.push_back(db[id] == queries[q]);
    sum += average_precision_at(rel.data(), static_cast<int64_t>(rel.size()),
                                static_cast<int64_t>(rel.size()));
  }
  return sum / static_cast<double>(lists.size());
}

// A command that runs a python snippet with the folder as sys.argv[1].
std::string python(const std::string& code) { return kPython + " -c '" + code + "'"; }

std::vector<Shortlist> external(const std::string& command, const Encoded& db, const Encoded& q,
                                std::vector<Shortlist> lists) {
  return rerank("external", {{"command", command}}, db, q, std::move(lists));
}

}  // namespace

TEST_CASE("external: the numpy alpha_qe example ranks as the C++ alpha_qe") {
  std::vector<int> db_labels, query_labels;
  const Encoded db = encoded(clustered(600, 24, 6, 1, db_labels));
  const Encoded queries = encoded(clustered(30, 24, 6, 2, query_labels));
  const std::vector<Shortlist> lists = random_lists(30, 600, 100, 3);
  const std::string script =
      kPython + " " + std::string(HAMSTER_SOURCE_DIR) + "/rerankers/external/alpha_qe.py";
  for (const auto& setting : {std::pair{"5", "3"}, std::pair{"10", "0"}}) {
    // Plain names, not a structured binding: CAPTURE makes a lambda, and
    // C++17 does not let a lambda capture a binding (clang rejects it).
    const std::string n = setting.first, alpha = setting.second;
    CAPTURE(n);
    CAPTURE(alpha);
    const auto ours = rerank("alpha_qe", {{"n", n}, {"alpha", alpha}}, db, queries, lists);
    const auto theirs = external(script + " --n " + n + " --alpha " + alpha, db, queries, lists);
    int same = 0;
    for (size_t i = 0; i < lists.size(); ++i) same += ours[i].ids == theirs[i].ids;
    CHECK(same == static_cast<int>(lists.size()));
    const double map_ours = mean_average_precision(ours, db_labels, query_labels);
    CHECK(map_ours > mean_average_precision(lists, db_labels, query_labels) + 0.1);
    CHECK(mean_average_precision(theirs, db_labels, query_labels) ==
          doctest::Approx(map_ours).epsilon(1e-9));
    CHECK(theirs[0].scores[0] == 0.0f);
    CHECK(theirs[0].scores[99] == 99.0f);
  }
}

TEST_CASE("external: shortlists of unequal length are padded with -1 and come back whole") {
  const Encoded db = encoded(gaussian_points(50, 4, 1));
  const Encoded queries = encoded(gaussian_points(2, 4, 2));
  std::vector<Shortlist> lists = {list_of({3, 1, 4, 15, 9}), list_of({2, 7})};
  // Reverses each row's ids, keeping the padding at the end.
  const auto out = external(python("import numpy as np, sys, os\n"
                                   "d = sys.argv[1]\n"
                                   "s = np.load(os.path.join(d, \"shortlists.npy\"))\n"
                                   "assert s.shape == (2, 5) and (s[1, 2:] == -1).all()\n"
                                   "t = np.load(os.path.join(d, \"shortlist_scores.npy\"))\n"
                                   "assert np.isinf(t[1, 2:]).all()\n"
                                   "r = s.copy()\n"
                                   "r[0] = s[0][::-1]\n"
                                   "r[1, :2] = s[1, 1::-1]\n"
                                   "np.save(os.path.join(d, \"reranked.npy\"), r)"),
                            db, queries, lists);
  CHECK(out[0].ids == std::vector<int64_t>{9, 15, 4, 1, 3});
  CHECK(out[1].ids == std::vector<int64_t>{7, 2});
}

TEST_CASE("external: a command's wrong output is an error naming the file, row and id") {
  const Encoded db = encoded(gaussian_points(50, 4, 1));
  const Encoded queries = encoded(gaussian_points(2, 4, 2));
  const std::vector<Shortlist> lists = {list_of({3, 1, 4}), list_of({2, 7, 5})};
  const auto writes = [](const std::string& rows, const std::string& dtype = "np.int64") {
    return python(
        "import numpy as np, sys, os\nnp.save(os.path.join(sys.argv[1], "
        "\"reranked.npy\"), np.array(" +
        rows + ", dtype=" + dtype + "))");
  };
  const auto error_of = [&](const std::string& command) {
    try {
      external(command, db, queries, lists);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(writes("[[3, 1, 4], [2, 7, 7]]")).find("row 1 of ") != std::string::npos);
  CHECK(error_of(writes("[[3, 1, 4], [2, 7, 7]]")).find("id 7 appears twice") != std::string::npos);
  CHECK(error_of(writes("[[3, 1, 4], [2, 7, 6]]")).find("id 6 is not in it") != std::string::npos);
  const std::string shape = error_of(writes("[[3, 1, 4]]"));
  CHECK(shape.find("reranked.npy is <i8 of shape (1, 3)") != std::string::npos);
  CHECK(shape.find("expected int64 (<i8) of shape (2, 3)") != std::string::npos);
  CHECK(error_of(writes("[[3, 1, 4], [2, 7, 5]]", "np.int32")).find("is <i4 of shape (2, 3)") !=
        std::string::npos);
  const std::string status = error_of(python("import sys\nprint(\"bad luck\")\nsys.exit(3)"));
  CHECK(status.find("exited with status 3") != std::string::npos);
  CHECK(status.find("bad luck") != std::string::npos);
  CHECK(error_of("true").find("the command wrote no ") != std::string::npos);
  CHECK_THROWS_WITH_AS(make("external"), doctest::Contains("parameter 'command' is required"),
                       Error);
  CHECK_THROWS_WITH_AS(make("external", {{"command", "true"}, {"embedding", "pixels"}}),
                       doctest::Contains("embedding must be 'feature' or 'real'"), Error);
}

TEST_CASE("external: its folder is gone once the re-ranker is") {
  const Encoded db = encoded(gaussian_points(20, 4, 1));
  const Encoded queries = encoded(gaussian_points(1, 4, 2));
  std::string folder;
  {
    auto r = make("external", {{"command", python("import sys, shutil\nprint(sys.argv[1])\n"
                                                  "raise SystemExit(1)")}});
    ArtefactStore store;
    r->prepare(RerankContext{db, store, 1, 0});
    std::vector<Shortlist> lists = {list_of({1, 2})};
    try {
      r->rerank(queries, lists);
    } catch (const Error& e) {
      const std::string text = e.what();
      const size_t start = text.find("output:\n") + 8;
      folder = text.substr(start, text.find('\n', start) - start);
    }
    REQUIRE(!folder.empty());
    CHECK(std::filesystem::exists(std::filesystem::path(folder) / "database.npy"));
  }
  CHECK_FALSE(std::filesystem::exists(folder));
}
