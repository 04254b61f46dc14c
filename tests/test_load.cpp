// Load: four `hamster run` processes of one grid at once in one output folder (two shards
// and two full runs) train, cache and append side by side; the folder must end as one clean
// run would leave it. Only lsh and itq (no LibTorch), so the sanitizer build runs it too.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "framework/experiment/config.h"
#include "framework/experiment/runner.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

std::vector<nlohmann::json> read_jsonl(const fs::path& file) {
  std::vector<nlohmann::json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// `hamster run config [args]` as a child process writing its log to `log`.
pid_t start_run(const fs::path& config, const std::vector<std::string>& args, const fs::path& log) {
  const pid_t child = fork();
  if (child == 0) {
    if (!freopen(log.c_str(), "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
    std::vector<const char*> argv = {HAMSTER_BINARY, "run", config.c_str()};
    for (const std::string& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    execv(HAMSTER_BINARY, const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  return child;
}

}  // namespace

TEST_CASE("load: two shards and two full runs at once in one folder equal one clean run") {
  const fs::path root = test::fresh_temp_dir("load");
  const Dataset d = test::synthetic_images(60, 10, 4);
  test::write_fashion_mnist_dir(d, 500, root / "data");
  // 2 hashers x 2 lengths = 4 builds; diffusion caches a kNN graph per build: 8 cells.
  const fs::path config = root / "load.yaml";
  std::ofstream(config) << "name: load\n"
                        << "dataset: {name: fashion-mnist, path: " << (root / "data").string()
                        << "}\n"
                        << "protocol: stratified\n"
                        << "split: {query_per_class: 5, train_per_class: 20}\n"
                        << "bits: [16, 32]\nshortlist: 100\nthreads: 1\nparallel_fits: 1\n"
                        << "hashers: [lsh, itq]\n"
                        << "rerankers:\n  - none\n  - name: diffusion\n    params: {k: 10}\n"
                        << "metrics: {map_at: [all, 100], precision_at: [10], recall_at: [100]}\n"
                        << "output: " << (root / "shared").string() << "\n";

  const std::vector<std::vector<std::string>> runs = {
      {"--shard", "0/2"}, {"--shard", "1/2"}, {}, {}};
  std::vector<pid_t> children;
  for (size_t i = 0; i < runs.size(); ++i)
    children.push_back(start_run(config, runs[i], root / ("run" + std::to_string(i) + ".log")));
  for (size_t i = 0; i < children.size(); ++i) {
    int status = -1;
    REQUIRE(children[i] > 0);
    waitpid(children[i], &status, 0);
    std::ifstream log(root / ("run" + std::to_string(i) + ".log"));
    const std::string text((std::istreambuf_iterator<char>(log)), {});
    INFO("run " << i << ":\n" << text);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  // Every cell exactly once, each with the metrics of a clean run.
  const fs::path shared = root / "shared" / "load";
  const auto records = read_jsonl(shared / "results.jsonl");
  std::set<std::string> keys;
  std::map<std::string, nlohmann::json> metrics;
  for (const auto& r : records) {
    keys.insert(r.at("cell_key").get<std::string>());
    metrics[r.at("cell").get<std::string>()] = r.at("metrics");
  }
  CHECK(records.size() == 8);
  CHECK(keys.size() == 8);
  ExperimentConfig clean = load_config(config);
  clean.output_dir = root / "clean" / "load";
  std::ostringstream log;
  CHECK(run_experiment(clean, {}, log) == 8);
  std::map<std::string, nlohmann::json> clean_metrics;
  for (const auto& r : read_jsonl(clean.output_dir / "results.jsonl"))
    clean_metrics[r.at("cell").get<std::string>()] = r.at("metrics");
  CHECK(metrics == clean_metrics);

  // One model folder per build, each whole (with its manifest), no temporary left over.
  int models = 0;
  REQUIRE(fs::is_directory(shared / "cache"));
  for (const auto& e : fs::directory_iterator(shared / "cache")) {
    INFO(e.path());
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
    CHECK(fs::exists(e.path() / "manifest.json"));
    ++models;
    for (const auto& a : fs::recursive_directory_iterator(e.path() / "artefacts"))
      CHECK(a.path().filename().string().find(".tmp") == std::string::npos);
  }
  CHECK(models == 4);
  fs::remove_all(root);
}
