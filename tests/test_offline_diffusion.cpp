// offline_diffusion: the online sum of offline solutions against dense solves worked out in
// the test, its artefact on disk, and its parameter errors.
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "framework/graph/shared.h"
#include "framework/reranker.h"
#include "tests/helpers.h"
#include "tests/rerank_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;
using namespace hamster::test;

namespace {

// Ids of the database in decreasing cosine to the unit row `p` (the database rows unit).
std::vector<int64_t> by_cosine(const Eigen::RowVectorXf& p, const Embedding& unit) {
  std::vector<int64_t> ids(unit.rows());
  for (int64_t i = 0; i < unit.rows(); ++i) ids[i] = i;
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int64_t a, int64_t b) { return p.dot(unit.row(a)) > p.dot(unit.row(b)); });
  return ids;
}

const std::map<std::string, std::string> kExact = {
    {"k", "6"},      {"graph", "exact"},    {"alpha", "0.9"},    {"kq", "5"},
    {"tol", "1e-7"}, {"iterations", "500"}, {"truncation", "20"}};

}  // namespace

TEST_CASE("offline_diffusion sums the offline truncated solves exactly like dense solves") {
  const Encoded db = encoded(gaussian_points(80, 5, 5));
  const Encoded query = encoded(gaussian_points(1, 5, 6));
  std::vector<int64_t> ids(30);
  for (int i = 0; i < 30; ++i) ids[i] = (7 * i + 3) % 80;
  for (const std::string seeds : {"graph", "shortlist"}) {
    CAPTURE(seeds);
    ArtefactStore store;
    const RerankContext ctx{db, store, 1, 0};
    auto params = kExact;
    params["seeds"] = seeds;
    auto r = make("offline_diffusion", params);
    r->prepare(ctx);
    std::vector<Shortlist> lists = {list_of(ids)};
    r->rerank(query, lists);

    // Worked out here: F_j solves (I - 0.9 S_T) F = e_j on T_j = j's 20 nearest (j first),
    // S_T the rows and columns of the global S (mutual graph) for T_j; f = sum over the query's 5
    // nearest j of cos^3 F_j.
    const Embedding& unit = *shared_normalised(ctx, "feature");
    KnnGraphOptions graph;
    graph.k = 6, graph.method = "exact";
    AffinityOptions affinity;
    affinity.mutual = true;
    const SparseMatrix& s = *shared_affinity(ctx, "feature", graph, affinity);
    const Eigen::RowVectorXf q = query.features.row(0).normalized();
    std::map<int64_t, double> f;
    std::vector<int64_t> nearest = by_cosine(q, unit);
    if (seeds == "shortlist")
      nearest.erase(std::remove_if(nearest.begin(), nearest.end(),
                                   [&](int64_t id) {
                                     return std::find(ids.begin(), ids.end(), id) == ids.end();
                                   }),
                    nearest.end());
    for (int t = 0; t < 5; ++t) {
      const int64_t j = nearest[t];
      const double w = std::pow(std::max(0.0f, q.dot(unit.row(j))), 3.0);
      std::vector<int64_t> trunc = by_cosine(unit.row(j), unit);
      trunc.resize(20);
      REQUIRE(trunc[0] == j);
      Eigen::MatrixXd m(20, 20);
      for (int a = 0; a < 20; ++a)
        for (int b = 0; b < 20; ++b) m(a, b) = s.coeff(trunc[a], trunc[b]);
      Eigen::VectorXd e = Eigen::VectorXd::Zero(20);
      e[0] = 1;
      const Eigen::VectorXd solution =
          (Eigen::MatrixXd::Identity(20, 20) - 0.9 * m).ldlt().solve(e);
      for (int a = 0; a < 20; ++a) f[trunc[a]] += w * std::max(0.0, solution[a]);
    }
    int reached = 0;
    for (size_t i = 0; i < lists[0].ids.size(); ++i) {
      const int64_t id = lists[0].ids[i];
      CAPTURE(id);
      if (f.count(id) && f[id] > 1e-9) {
        ++reached;
        CHECK(-lists[0].scores[i] == doctest::Approx(f[id]).epsilon(1e-4));
      } else {
        CHECK(lists[0].scores[i] == doctest::Approx(2 - q.dot(unit.row(id))));
      }
    }
    CHECK(reached >= 3);
    const auto stats = r->diagnostics();
    CHECK(stats.at("offline_cg_residual_max") <= 1e-6);
    CHECK(stats.at("offline_entries_mean") > 1);
    CHECK(stats.at("offline_entries_mean") <= 20);
  }
}

TEST_CASE("offline_diffusion keeps its solutions on disk and loads them in a later run") {
  const Encoded db = encoded(gaussian_points(80, 5, 5));
  const Encoded queries = encoded(gaussian_points(4, 5, 9));
  const auto dir = fresh_temp_dir("offline-diffusion");
  std::vector<Shortlist> lists(4, list_of(iota_ids(80)));
  std::vector<Shortlist> first = lists, second = lists;
  {
    ArtefactStore store(dir);
    auto r = make("offline_diffusion", kExact);
    r->prepare(RerankContext{db, store, 1, 0});
    r->rerank(queries, first);
  }
  std::filesystem::path file;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().rfind("offline-diffusion", 0) == 0 &&
        entry.path().extension() == ".bin")
      file = entry.path();
  REQUIRE_FALSE(file.empty());
  ArtefactStore again(dir);
  auto r = make("offline_diffusion", kExact);
  r->prepare(RerankContext{db, again, 1, 0});
  r->rerank(queries, second);
  for (size_t q = 0; q < lists.size(); ++q) CHECK(first[q].ids == second[q].ids);
  bool loaded = false;
  for (const auto& e : again.entries())
    if (e.key == file.filename().string()) loaded = e.from_disk;
  CHECK(loaded);
  // A damaged file is refused, naming it.
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 4);
  const std::string message = error_message([&] {
    ArtefactStore third(dir);
    make("offline_diffusion", kExact)->prepare(RerankContext{db, third, 1, 0});
  });
  CHECK(message.find(file.string()) != std::string::npos);
}

TEST_CASE("offline_diffusion parameter errors name the parameter") {
  CHECK(error_message([] {
          make("offline_diffusion", {{"truncation", "0"}});
        }) == "offline_diffusion: truncation must be >= 1, got 0");
  CHECK(error_message([] {
          make("offline_diffusion", {{"iterations", "0"}});
        }) == "offline_diffusion: iterations must be >= 1, got 0");
  CHECK(error_message([] {
          make("offline_diffusion", {{"tol", "0"}});
        }) == "offline_diffusion: tol must be > 0, got 0");
  CHECK(error_message([] {
          make("offline_diffusion", {{"graph", "ivf"}});
        }) == "offline_diffusion: graph must be hnsw or exact, got 'ivf'");
  CHECK(error_message([] {
          make("offline_diffusion", {{"alpha", "1"}});
        }) == "offline_diffusion: alpha must be in [0, 1), got 1");
}
