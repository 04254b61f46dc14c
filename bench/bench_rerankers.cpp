// Stage-2 speed and accuracy: every re-ranker (or the ones named) over the same stage-1
// shortlists of one encoded build, as `hamster export` writes it, or of a synthetic
// clustered set. Shared artefacts (kNN graph, eigenpairs...) are built once, through one
// store, and timed on their own; each re-ranker's prepare and per-query time are reported
// beside mAP@L, so speed and accuracy are read from one run.
//
//   bench_rerankers [DIR] [--shortlist L] [--rerankers a,b(k=v;k2=v2),...] [--threads T]
//                   [--n N --queries Q --dim D]   (synthetic data when DIR is not given)
//
// DIR holds {query,db}_{real,features,labels}.npy (hamster export CONFIG --out DIR writes
// one such folder per build).
#include <fmt/format.h>
#include <tbb/global_control.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "framework/artefacts.h"
#include "framework/codes/hamming_search.h"
#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/npy.h"
#include "framework/reranker.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

struct Options {
  fs::path dir;
  int64_t shortlist = 1000;
  std::string rerankers;  // empty: every one that runs at its defaults
  int threads = 2;
  int64_t n = 69000, queries = 1000, dim = 500;
};

struct Side {
  Encoded encoded;
  std::vector<LabelSet> labels;
};

Side load_side(const fs::path& dir, const std::string& prefix) {
  Side s;
  s.encoded.real = load_embedding(dir / (prefix + "_real.npy"));
  s.encoded.features = load_embedding(dir / (prefix + "_features.npy"));
  s.encoded.codes = BinaryCodes::from_signs(s.encoded.real.data(), s.encoded.real.rows(),
                                            static_cast<int>(s.encoded.real.cols()));
  s.labels = load_labels(dir / (prefix + "_labels.npy"));
  return s;
}

// Clustered data shaped like a CNN feature: 10 classes, each a Gaussian blob in a 32-d
// subspace, lifted to `dim` dimensions and passed through a ReLU; codes are signs of a
// noisy 32-d projection, so stage 1 is informative but imperfect.
Side synthetic_side(int64_t n, int64_t dim, uint64_t seed) {
  Rng rng(seed);
  Rng fixed(7);  // the same class centres and lift for queries and database
  const int classes = 10, sub = 32, bits = 32;
  Embedding centres(classes, sub), lift(sub, dim), project(dim, bits);
  for (int64_t i = 0; i < centres.size(); ++i) centres.data()[i] = fixed.normal();
  for (int64_t i = 0; i < lift.size(); ++i) lift.data()[i] = fixed.normal();
  for (int64_t i = 0; i < project.size(); ++i) project.data()[i] = fixed.normal();
  Side s;
  Embedding latent(n, sub);
  s.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng.below(classes));
    s.labels[i] = LabelSet::of(c);
    for (int j = 0; j < sub; ++j) latent(i, j) = centres(c, j) + 0.9f * rng.normal();
  }
  s.encoded.features = (latent * lift).cwiseMax(0.0f);
  s.encoded.real = s.encoded.features * project;
  for (int64_t i = 0; i < s.encoded.real.size(); ++i)
    s.encoded.real.data()[i] += 30.0f * static_cast<float>(rng.normal());
  s.encoded.codes = BinaryCodes::from_signs(s.encoded.real.data(), n, bits);
  return s;
}

// "diffusion(k=30;gamma=2)" -> name and parameters (';' separates, since ',' lists).
std::pair<std::string, std::map<std::string, std::string>> plugin_of(const std::string& text) {
  const auto open = text.find('(');
  if (open == std::string::npos) return {text, {}};
  std::map<std::string, std::string> params;
  const std::string body = text.substr(open + 1, text.size() - open - 2);
  size_t at = 0;
  while (at < body.size()) {
    const size_t end = std::min(body.find(';', at), body.size());
    const std::string kv = body.substr(at, end - at);
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw Error("bench: expected key=value, got '" + kv + "'");
    params[kv.substr(0, eq)] = kv.substr(eq + 1);
    at = end + 1;
  }
  return {text.substr(0, open), params};
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) try {
  Options o;
  CLI::App app{"Stage-2 speed and accuracy: re-rankers over the same stage-1 shortlists"};
  app.option_defaults()->always_capture_default();
  app.add_option("DIR", o.dir,
                 "folder of `hamster export` ({query,db}_{real,features,labels}.npy); synthetic "
                 "clustered data when not given");
  app.add_option("--shortlist", o.shortlist, "stage-1 shortlist length L")
      ->check(CLI::PositiveNumber);
  app.add_option("--rerankers", o.rerankers,
                 "re-rankers, comma-separated, each with optional parameters: "
                 "a,b(k=v;k2=v2); every one that runs at its defaults when not given");
  app.add_option("--threads", o.threads, "threads")->check(CLI::PositiveNumber);
  app.add_option("--n", o.n, "synthetic: database items")->check(CLI::PositiveNumber);
  app.add_option("--queries", o.queries, "synthetic: queries")->check(CLI::PositiveNumber);
  app.add_option("--dim", o.dim, "synthetic: feature dimensions")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, o.threads);
  const Side db = o.dir.empty() ? synthetic_side(o.n, o.dim, 1) : load_side(o.dir, "db");
  const Side queries =
      o.dir.empty() ? synthetic_side(o.queries, o.dim, 2) : load_side(o.dir, "query");
  fmt::print("{} database items, {} queries, {}-d features, {} bits, L = {}, {} threads\n",
             db.encoded.codes.size(), queries.encoded.codes.size(), db.encoded.features.cols(),
             db.encoded.codes.bits(), o.shortlist, o.threads);

  const std::vector<Shortlist> stage1 =
      hamming_knn(queries.encoded.codes, db.encoded.codes, o.shortlist);
  EvalOptions eval;
  eval.map_at = {o.shortlist};
  eval.precision_at = {};
  eval.recall_at = {};
  const HammingEvaluation evaluation(queries.labels, db.labels, queries.encoded.codes,
                                     db.encoded.codes, o.shortlist, eval);
  const std::string metric = fmt::format("mAP@{}", o.shortlist);

  std::vector<std::string> names = split_list(o.rerankers);
  if (names.empty())  // every one that runs at its defaults, as `rerankers: all` takes them
    for (const auto& [name, entry] : RerankerRegistry::instance().entries())
      if (std::none_of(entry.params.begin(), entry.params.end(),
                       [](const ParamSpec& p) { return p.default_value.empty(); }))
        names.push_back(name);
  ArtefactStore store;  // one per build, as in the runner: graph re-rankers share it
  fmt::print("| re-ranker | {} | artefacts s | prepare s | ms/query |\n|---|---:|---:|---:|---:|\n",
             metric);
  for (const std::string& spec : names) {
    const auto [name, params] = plugin_of(spec);
    auto reranker = RerankerRegistry::instance().create(name, params);
    store.take_requests();
    const size_t built_before = store.entries().size();
    auto t0 = std::chrono::steady_clock::now();
    reranker->prepare(RerankContext{db.encoded, store, o.threads, 0});
    const double prepare = seconds_since(t0);
    double artefacts = 0, built_now = 0;  // used (whoever built them); built by this prepare
    for (const auto& a : store.take_requests()) artefacts += a.seconds;
    const auto entries = store.entries();
    for (size_t i = built_before; i < entries.size(); ++i) built_now += entries[i].seconds;
    std::vector<Shortlist> lists = stage1;
    t0 = std::chrono::steady_clock::now();
    reranker->rerank(queries.encoded, lists);
    const double ms = seconds_since(t0) * 1e3 / static_cast<double>(lists.size());
    const double own = std::max(0.0, prepare - built_now);
    fmt::print("| {} | {:.4f} | {:.2f} | {:.2f} | {:.3f} |\n", spec,
               evaluation.score(lists).get(metric), artefacts, own, ms);
  }
  fmt::print("\nshared artefacts (built once, in order):\n");
  for (const auto& a : store.entries())
    fmt::print("  {:60s} {:7.2f} s{}\n", a.key, a.seconds, a.from_disk ? " (from disk)" : "");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_rerankers: %s\n", e.what());
  return 1;
}
