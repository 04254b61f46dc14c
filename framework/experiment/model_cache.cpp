#include "framework/experiment/model_cache.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>

#include "framework/error.h"
#include "framework/manifest.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// In every cached model folder, beside the hasher's files and fit.json.
constexpr const char* kModelManifest = "manifest.json";

// Keyed like the model, so only this build ever resumes from it.
fs::path checkpoint_file(const ExperimentConfig& c, const Build& b) {
  return c.output_dir / (b.cache_dir().string() + ".checkpoint");
}

// Saves a trained model as the cache folder `dir`: its files and fit.json, then the
// manifest over them, in a temporary folder renamed into place, so the folder appears
// whole or not at all. Without --force, a folder another process (a shard, or a second run
// of the same config) stored first is kept: the build is deterministic, so it is the same.
void store_model(const fs::path& dir, const Hasher& hasher, const std::string& fit_json,
                 bool force) {
  fs::path tmp = dir;
  tmp += ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  hasher.save(tmp);
  write_file_atomic(tmp / "fit.json", fit_json);
  write_manifest(tmp / kModelManifest, tmp, files_under(tmp));  // last: it vouches for the rest
  // A folder without a manifest is no finished model (one left by an older hamster, say).
  if (force || !fs::exists(dir / kModelManifest)) fs::remove_all(dir);
  std::error_code taken;
  fs::rename(tmp, dir, taken);  // fails when another process's folder is already there
  if (taken) {
    fs::remove_all(tmp);
    if (!fs::exists(dir / kModelManifest))
      throw Error("cannot store the model in " + dir.string() + " (" + taken.message() + ")");
  }
}

}  // namespace

std::unique_ptr<Hasher> make_hasher(const Build& b) {
  return HasherRegistry::instance().create(b.hasher->name, b.hasher->values(), b.bits);
}

bool has_model(const ExperimentConfig& c, const Build& b) {
  return fs::exists(c.output_dir / b.cache_dir() / "fit.json");
}

CachedModel load_model(const ExperimentConfig& c, const Build& b) {
  CachedModel m;
  const fs::path dir = c.output_dir / b.cache_dir();
  m.hasher = make_hasher(b);
  verify_manifest(dir / kModelManifest, dir, "cached model of " + b.id);
  m.hasher->load(dir);
  std::ifstream fit_file(dir / "fit.json");
  try {
    m.fit = json::parse(fit_file);
  } catch (const json::exception& ex) {
    throw Error((dir / "fit.json").string() + ": corrupt (" + ex.what() + "); rerun with --force");
  }
  return m;
}

std::filesystem::path artefact_dir(const ExperimentConfig& c, const Build& b) {
  return c.output_dir / b.cache_dir() / "artefacts" / c.queries;
}

std::string fit_plan(const ExperimentConfig& c, const Build& b, bool force) {
  if (force) return "retrain";
  if (has_model(c, b)) return "model cached, evaluate only";
  const fs::path checkpoint = checkpoint_file(c, b);
  if (!fs::exists(checkpoint)) return "fit from the start";
  const std::string progress = make_hasher(b)->checkpoint_progress(checkpoint);
  if (progress.empty()) return "fit from the start";  // a hasher that keeps no checkpoint
  return "fit resumes from " + checkpoint.string() + " (" + progress + ")";
}

// `parallel_fits` fits at a time, each on fit_threads(c) threads: two small-network
// trainings side by side use two cores better than one training on two threads
// (bench_training: 1.96x against 1.71x one training on one thread).
void fit_missing(const ExperimentConfig& c, const Dataset& data, const Split& split,
                 const std::vector<const Build*>& builds, bool force, Logger& log,
                 const ModelReady& ready) {
  std::vector<const Build*> todo, cached;
  for (const Build* b : builds) (force || !has_model(c, *b) ? todo : cached).push_back(b);
  if (ready)
    for (const Build* b : cached) ready(*b, load_model(c, *b), c.threads);
  if (todo.empty()) return;
  const int workers = std::min<int>(c.parallel_fits, static_cast<int>(todo.size()));
  const int threads_each = fit_threads(c);
  std::atomic<size_t> next{0}, done{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto start = clock_type::now();
  auto worker = [&] {
    for (size_t i; (i = next++) < todo.size();) {
      const Build& b = *todo[i];
      try {
        log(fmt::format("fit {} ({} training items, {} thread{})", b.id, split.train.size(),
                        threads_each, threads_each == 1 ? "" : "s"));
        auto hasher = make_hasher(b);
        FitContext ctx;
        ctx.seed = b.seed;
        ctx.threads = threads_each;
        ctx.validation = split.validation;
        ctx.log = [&log](const std::string& line) { log(line); };
        ctx.checkpoint = checkpoint_file(c, b);
        if (force) fs::remove(ctx.checkpoint);
        const auto t0 = clock_type::now();
        hasher->fit(data, split.train, ctx);
        const auto summary = hasher->fit_summary();
        // A resumed fit's time includes the stopped runs' epochs.
        const auto before = summary.find("seconds_before_resume");
        const double seconds = seconds_since(t0) + (before == summary.end() ? 0.0 : before->second);
        json fit = {{"train_seconds", seconds},
                    {"train_images_per_second", hasher->train_images_per_second()},
                    {"fit_threads", threads_each}};
        for (const auto& [k, v] : summary) fit["summary"][k] = v;
        store_model(c.output_dir / b.cache_dir(), *hasher, fit.dump(2), force);
        fs::remove(ctx.checkpoint);
        const size_t finished = ++done;
        const double elapsed = seconds_since(start);
        log(fmt::format("fit {} done in {:.1f}s  [builds {}/{}, ETA {:.0f}s]", b.id, seconds,
                        finished, todo.size(), elapsed / finished * (todo.size() - finished)));
        if (ready) ready(b, CachedModel{std::move(hasher), std::move(fit)}, threads_each);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = todo.size();  // stop handing out work
      }
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace hamster
