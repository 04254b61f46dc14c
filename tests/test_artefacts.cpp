// ArtefactStore: each shared artefact is built once per build, timed on its own, and kept
// on disk when it knows how to save itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "framework/artefacts.h"
#include "framework/error.h"
#include "framework/reranker.h"
#include "tests/helpers.h"
#include "tests/rerank_helpers.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

const ArtefactStore::Disk<int> kIntFile{
    [](const fs::path& p, const int& v) { std::ofstream(p) << v; },
    [](const fs::path& p) {
      int v = 0;
      if (!(std::ifstream(p) >> v)) throw Error(p.string() + ": not an int");
      return v;
    }};

}  // namespace

TEST_CASE("artefacts are built once and shared") {
  ArtefactStore store;
  int builds = 0;
  auto a = store.get<int>("answer", [&] { return ++builds, 42; });
  auto b = store.get<int>("answer", [&] { return ++builds, 7; });
  CHECK(*a == 42);
  CHECK(a.get() == b.get());
  CHECK(builds == 1);
  REQUIRE(store.entries().size() == 1);
  CHECK(store.entries()[0].key == "answer");
}

TEST_CASE("an artefact built from another is timed without it") {
  ArtefactStore store;
  store.get<int>("outer", [&] {
    sleep_ms(30);
    return *store.get<int>("inner", [] { return sleep_ms(120), 1; }) + 1;
  });
  const auto entries = store.entries();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].key == "inner");
  CHECK(entries[0].seconds >= 0.12);
  CHECK(entries[1].key == "outer");
  CHECK(entries[1].seconds >= 0.03);
  CHECK(entries[1].seconds < 0.11);  // the inner 0.12 s is not counted again
}

TEST_CASE("take_requests lists what was asked for since the last call") {
  ArtefactStore store;
  store.get<int>("a", [] { return 1; });
  store.take_requests();
  store.get<int>("b", [] { return 2; });
  store.get<int>("a", [] { return 3; });
  store.get<int>("b", [] { return 4; });
  const auto used = store.take_requests();
  REQUIRE(used.size() == 2);
  CHECK(used[0].key == "b");
  CHECK(used[1].key == "a");
  CHECK(store.take_requests().empty());
}

TEST_CASE("artefacts with a disk form are saved atomically and loaded by a later store") {
  const fs::path dir = fs::temp_directory_path() / "hamster_test_artefacts";
  fs::remove_all(dir);
  {
    ArtefactStore store(dir);
    CHECK(*store.get<int>(
              "n.txt", [] { return 17; }, &kIntFile) == 17);
    CHECK(store.get<int>("memory-only", [] { return 5; }) != nullptr);
  }
  CHECK(fs::exists(dir / "n.txt"));
  CHECK_FALSE(fs::exists(dir / "n.txt.tmp"));
  CHECK_FALSE(fs::exists(dir / "memory-only"));
  ArtefactStore again(dir);
  int builds = 0;
  CHECK(*again.get<int>(
            "n.txt", [&] { return ++builds, 0; }, &kIntFile) == 17);
  CHECK(builds == 0);
  CHECK(again.entries()[0].from_disk);
  // A failed save leaves nothing behind, and the error reaches the caller.
  const ArtefactStore::Disk<int> failing{[](const fs::path& p, const int&) {
                                           std::ofstream(p) << "half";
                                           throw Error("disk full");
                                         },
                                         kIntFile.load};
  CHECK_THROWS_WITH_AS(again.get<int>(
                           "m.txt", [] { return 1; }, &failing),
                       "disk full", Error);
  CHECK_FALSE(fs::exists(dir / "m.txt"));
  CHECK_FALSE(fs::exists(dir / "m.txt.tmp"));
  fs::remove_all(dir);
}

TEST_CASE("an artefact on disk that no longer matches its manifest is refused naming the file") {
  const fs::path dir = fs::temp_directory_path() / "hamster_test_artefact_manifest";
  fs::remove_all(dir);
  ArtefactStore(dir).get<int>(
      "n.txt", [] { return 123456; }, &kIntFile);
  REQUIRE(fs::exists(dir / "n.txt.manifest.json"));
  const auto load = [&] {
    return test::error_message([&] {
      ArtefactStore(dir).get<int>(
          "n.txt", [] { return 0; }, &kIntFile);
    });
  };
  CHECK(load().empty());
  std::ofstream(dir / "n.txt") << 123457;  // same size, one byte changed
  std::string msg = load();
  CHECK(msg.rfind((dir / "n.txt").string() + ": content hash ", 0) == 0);
  CHECK(msg.find("the cached artefact n.txt is damaged: rerun with --force") != std::string::npos);
  std::ofstream(dir / "n.txt") << 12345;
  CHECK(load().find("n.txt: 5 bytes, but ") != std::string::npos);
  fs::remove(dir / "n.txt.manifest.json");
  msg = load();
  CHECK(msg.rfind((dir / "n.txt.manifest.json").string() + ": missing", 0) == 0);
  CHECK(msg.find("rerun with --force") != std::string::npos);
  fs::remove_all(dir);
}

namespace {

// Every registered re-ranker that runs at its defaults, at its defaults, then the variants
// that ask for other artefacts (another graph, no seeds' graph, the global S, DBA, ...).
std::vector<std::pair<std::string, std::map<std::string, std::string>>> plugin_variants() {
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
  for (const auto& [name, entry] : RerankerRegistry::instance().entries())
    if (std::none_of(entry.params.begin(), entry.params.end(),
                     [](const ParamSpec& p) { return p.default_value.empty(); }))
      out.push_back({name, {}});
  for (const auto& params :
       std::vector<std::map<std::string, std::string>>{{{"graph", "exact"}},
                                                       {{"seeds", "shortlist"}},
                                                       {{"truncate", "none"}},
                                                       {{"renormalise", "false"}},
                                                       {{"embedding", "real"}, {"k", "10"}}})
    out.push_back({"diffusion", params});
  out.push_back({"offline_diffusion", {{"graph", "exact"}, {"truncation", "50"}}});
  out.push_back({"spectral", {{"solver", "lanczos"}, {"rank", "10"}, {"mutual", "true"}}});
  out.push_back({"dba", {{"graph", "exact"}}});
  return out;
}

}  // namespace

TEST_CASE("every re-ranker declares the artefacts its prepare() asks for") {
  // A dry run lists a build's artefacts from these declarations, before any data loads;
  // here each is held against what prepare() really asks a fresh store for.
  const Encoded db =
      test::encoded(test::gaussian_points(300, 12, 5), test::gaussian_points(300, 8, 6));
  size_t asking = 0;
  for (const auto& variant : plugin_variants()) {
    const std::string& name = variant.first;  // a plain name: CAPTURE takes no binding
    CAPTURE(name);
    CAPTURE(variant.second.size());
    const auto reranker = RerankerRegistry::instance().create(name, variant.second);
    ArtefactStore store;
    reranker->prepare(RerankContext{db, store, 1, 0});
    std::set<std::string> asked;
    for (const ArtefactStore::Entry& e : store.take_requests()) asked.insert(e.key);
    const std::vector<std::string> declared = reranker->artefacts();
    const std::set<std::string> listed(declared.begin(), declared.end());
    std::string undeclared, never_asked;  // named in the failure message
    for (const std::string& key : asked)
      if (!listed.count(key)) undeclared += key + " ";
    for (const std::string& key : listed)
      if (!asked.count(key)) never_asked += key + " ";
    CHECK(undeclared == "");
    CHECK(never_asked == "");
    CHECK(listed.size() == declared.size());  // each key once
    asking += !asked.empty();
  }
  CHECK(asking >= 8);  // the graph and expansion re-rankers, and their variants, ask for some
}
