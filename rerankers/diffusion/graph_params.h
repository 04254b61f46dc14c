#pragma once
// The parameters diffusion and spectral ranking share: the database kNN graph (k, and
// graph = hnsw or exact), its affinity a_ij = max(0, cos)^gamma (gamma, mutual), the diffusion
// weight alpha, the query seeds (kq) and the embedding ranked in.
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/graph/affinity.h"
#include "framework/graph/knn_graph.h"
#include "framework/params.h"
#include "rerankers/diffusion/seeds.h"

namespace hamster {

struct GraphRankOptions {
  KnnGraphOptions graph;
  AffinityOptions affinity;
  double alpha = 0.99;
  int kq = 10;
  bool graph_seeds = true;  // the query's kq nearest in the database; false: in its shortlist
  std::string embedding = "feature";
  // Seeds found through the hnsw graph (an exact graph's seeds are found by a scan).
  bool searches_graph() const { return graph_seeds && graph.method != "exact"; }
};

// The specs of the parameters every graph re-ranker starts with (k, graph, gamma, alpha),
// then `own`: its list for RegisterReranker. Read by read_graph_rank_options below.
inline std::vector<ParamSpec> graph_rank_specs(std::vector<ParamSpec> own) {
  std::vector<ParamSpec> specs = {{"k", "50", "graph neighbours per database item", true, true},
                                  {"graph", "hnsw", "kNN graph: hnsw (approximate) or exact"},
                                  {"gamma", "3", "affinity exponent: a_ij = max(0, cos)^gamma"},
                                  {"alpha", "0.99", "diffusion weight in [0, 1)"}};
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

// Reads k, gamma, mutual, alpha, kq, seeds and embedding from p and checks them (each
// graph re-ranker lists kq and seeds among its own specs, with its own help). Throws Error
// starting "owner: " for a value out of range.
inline GraphRankOptions read_graph_rank_options(const Params& p, const std::string& owner) {
  const auto check = [&](bool ok, const std::string& message) {
    if (!ok) throw Error(owner + ": " + message);
  };
  GraphRankOptions o;
  o.graph.k = p.get_int("k");
  o.graph.method = p.get_string("graph");
  o.affinity.gamma = static_cast<float>(p.get_double("gamma"));
  o.affinity.mutual = p.get_bool("mutual");
  o.alpha = p.get_double("alpha");
  o.kq = p.get_int("kq");
  const std::string seeds = p.get_string("seeds");
  o.graph_seeds = seeds == "graph";
  o.embedding = p.get_string("embedding");
  check(o.graph.k >= 1, "k must be >= 1, got " + std::to_string(o.graph.k));
  check(o.graph.method == "hnsw" || o.graph.method == "exact",
        "graph must be hnsw or exact, got '" + o.graph.method + "'");
  check(o.affinity.gamma > 0, "gamma must be > 0, got " + number_text(o.affinity.gamma));
  check(o.alpha >= 0 && o.alpha < 1, "alpha must be in [0, 1), got " + number_text(o.alpha));
  check(o.kq >= 1, "kq must be >= 1, got " + std::to_string(o.kq));
  check(seeds == "graph" || seeds == "shortlist",
        "seeds must be graph or shortlist, got '" + seeds + "'");
  check(o.embedding == "feature" || o.embedding == "real",
        "embedding must be feature or real, got '" + o.embedding + "'");
  return o;
}

}  // namespace hamster
