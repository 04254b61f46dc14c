#pragma once
// The Reranker interface (stage 2). Sees codes, real outputs and deep features; no torch.
#include <memory>
#include <string>
#include <vector>

#include "framework/registry.h"
#include "framework/types.h"

namespace hamster {

class Reranker {
 public:
  virtual ~Reranker() = default;
  // Offline work over the database (kNN graph, normalisation...), done once per encoding.
  virtual void prepare(const Encoded& database) { (void)database; }
  // Reorders each query's shortlist in place (best first, scores = the reranker's,
  // lower is better). lists[i] belongs to row i of `queries`. Runs after prepare().
  virtual void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const = 0;
};

using RerankerRegistry = Registry<Reranker>;

struct RegisterReranker {
  RegisterReranker(const std::string& name, std::string help, std::vector<ParamSpec> params,
                   RerankerRegistry::Factory factory) {
    RerankerRegistry::instance().add(name, std::move(help), std::move(params), std::move(factory));
  }
};

}  // namespace hamster
