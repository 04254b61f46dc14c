#pragma once
// The Reranker interface (stage 2). Sees codes, real outputs and deep features; no torch.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/artefacts.h"
#include "framework/registry.h"
#include "framework/types.h"

namespace hamster {

// What prepare() gets: the encoded database and the per-build store of shared artefacts
// (framework/graph/shared.h builds the kNN graph, affinity and eigenpairs through it, so
// every graph re-ranker of a build shares one graph).
struct RerankContext {
  const Encoded& database;
  ArtefactStore& artefacts;
  int threads = 1;    // the run's thread budget (TBB is already limited to it)
  uint64_t seed = 0;  // the build's seed, for anything randomised
};

class Reranker {
 public:
  virtual ~Reranker() = default;
  // Offline work over the database (normalisation, graph, eigenpairs...), done once per
  // cell; work shared between re-rankers goes through ctx.artefacts. The context's
  // references stay valid until the last rerank() call.
  virtual void prepare(const RerankContext& ctx) { (void)ctx; }
  // Reorders each query's shortlist in place (best first, scores = the reranker's,
  // lower is better). lists[i] belongs to row i of `queries`. Runs after prepare().
  virtual void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const = 0;
  // The keys of the shared artefacts prepare() asks ctx.artefacts for, those they are built
  // from included (framework/graph/shared.h lists them): `hamster run --dry-run` shows them,
  // and whether a build's cache holds them, before any data loads. tests/test_artefacts.cpp
  // checks every plugin's list against what its prepare() really asks for.
  virtual std::vector<std::string> artefacts() const { return {}; }
  // Figures the last rerank() call measured that belong in the result record, by name
  // (diffusion: its solver's iterations and residuals). Most re-rankers have none.
  virtual std::map<std::string, double> diagnostics() const { return {}; }
};

using RerankerRegistry = Registry<Reranker>;

struct RegisterReranker {
  RegisterReranker(const std::string& name, std::string help, std::vector<ParamSpec> params,
                   RerankerRegistry::Factory factory) {
    RerankerRegistry::instance().add(name, std::move(help), std::move(params), std::move(factory));
  }
};

}  // namespace hamster
