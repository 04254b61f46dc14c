#include "framework/graph/shared.h"

#include <fmt/format.h>

#include <algorithm>

#include "framework/error.h"
#include "framework/graph/subspace.h"

namespace hamster {

namespace {

// `which` names an embedding: feature or real.
void check_embedding_name(const std::string& which) {
  if (which != "feature" && which != "real")
    throw Error("graph embedding '" + which + "' (known: feature, real)");
}

const Embedding& embedding(const Encoded& e, const std::string& which, const char* role) {
  check_embedding_name(which);
  const Embedding& m = which == "feature" ? e.features : e.real;
  if (m.rows() == 0 || m.cols() == 0)
    throw Error(fmt::format("the {} has no '{}' embedding", role, which));
  return m;
}

}  // namespace

const Embedding& database_embedding(const Encoded& database, const std::string& which) {
  return embedding(database, which, "database");
}

const Embedding& query_embedding(const Encoded& queries, const std::string& which) {
  return embedding(queries, which, "query set");
}

// The keys name the embedding and every option that changes the artefact; the hnsw
// options do not change an exact graph, so they are left out of its key.
std::string knn_graph_key(const std::string& which, const KnnGraphOptions& o) {
  check_embedding_name(which);
  if (o.method == "exact") return fmt::format("knn-{}-k{}-exact", which, o.k);
  if (o.method == "hnsw")
    return fmt::format("knn-{}-k{}-hnsw-M{}-efc{}-efs{}-seed{}", which, o.k, o.M, o.ef_construction,
                       o.ef_search, o.seed);
  throw Error("kNN graph: unknown method '" + o.method + "' (known: hnsw, exact)");
}

std::string affinity_key(const std::string& which, const KnnGraphOptions& graph,
                         const AffinityOptions& a) {
  return fmt::format("affinity-{}-gamma{:g}-mutual{:d}", knn_graph_key(which, graph), a.gamma,
                     a.mutual);
}

namespace {

std::string eigenpairs_key(const std::string& which, const KnnGraphOptions& graph,
                           const AffinityOptions& affinity, int rank, const std::string& solver) {
  if (solver != "subspace" && solver != "lanczos")
    throw Error("eigen solver '" + solver + "' (known: subspace, lanczos)");
  return fmt::format("eigen-{}-rank{}-{}", affinity_key(which, graph, affinity), rank, solver);
}

}  // namespace

std::vector<std::string> unique_keys(const std::vector<std::vector<std::string>>& lists) {
  std::vector<std::string> out;
  for (const auto& list : lists)
    for (const std::string& key : list)
      if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(key);
  return out;
}

// Each in the order its shared_X asks: its own key first, then those its build asks for.
std::vector<std::string> normalised_artefacts(const std::string& which) {
  check_embedding_name(which);
  return {"normalised-" + which};
}

std::vector<std::string> knn_graph_artefacts(const std::string& which,
                                             const KnnGraphOptions& graph) {
  return unique_keys({{knn_graph_key(which, graph) + ".bin"}, normalised_artefacts(which)});
}

std::vector<std::string> raw_affinity_artefacts(const std::string& which,
                                                const KnnGraphOptions& graph,
                                                const AffinityOptions& affinity) {
  return unique_keys(
      {{"raw-" + affinity_key(which, graph, affinity)}, knn_graph_artefacts(which, graph)});
}

std::vector<std::string> affinity_artefacts(const std::string& which, const KnnGraphOptions& graph,
                                            const AffinityOptions& affinity) {
  return unique_keys(
      {{affinity_key(which, graph, affinity)}, raw_affinity_artefacts(which, graph, affinity)});
}

std::vector<std::string> eigenpairs_artefacts(const std::string& which,
                                              const KnnGraphOptions& graph,
                                              const AffinityOptions& affinity, int rank,
                                              const std::string& solver) {
  return unique_keys({{eigenpairs_key(which, graph, affinity, rank, solver)},
                      affinity_artefacts(which, graph, affinity)});
}

std::shared_ptr<const Embedding> shared_normalised(const RerankContext& ctx,
                                                   const std::string& which) {
  const Embedding& m = database_embedding(ctx.database, which);
  return ctx.artefacts.get<Embedding>("normalised-" + which, [&] { return l2_normalised(m); });
}

std::shared_ptr<const KnnGraph> shared_knn_graph(const RerankContext& ctx, const std::string& which,
                                                 const KnnGraphOptions& options) {
  const int64_t n = database_embedding(ctx.database, which).rows();
  const int k = options.k;
  // A graph on disk must be of this database's size; load checks that and k.
  const ArtefactStore::Disk<KnnGraph> disk{
      save_knn_graph,
      [n, k](const std::filesystem::path& file) { return load_knn_graph(file, n, k); }};
  return ctx.artefacts.get<KnnGraph>(
      knn_graph_key(which, options) + ".bin",
      [&] { return build_knn_graph(*shared_normalised(ctx, which), options); }, &disk);
}

std::shared_ptr<const SparseMatrix> shared_raw_affinity(const RerankContext& ctx,
                                                        const std::string& which,
                                                        const KnnGraphOptions& graph,
                                                        const AffinityOptions& affinity) {
  return ctx.artefacts.get<SparseMatrix>("raw-" + affinity_key(which, graph, affinity), [&] {
    SparseMatrix a = affinity_matrix(*shared_knn_graph(ctx, which, graph), affinity);
    a.makeCompressed();
    return a;
  });
}

std::shared_ptr<const SparseMatrix> shared_affinity(const RerankContext& ctx,
                                                    const std::string& which,
                                                    const KnnGraphOptions& graph,
                                                    const AffinityOptions& affinity) {
  return ctx.artefacts.get<SparseMatrix>(affinity_key(which, graph, affinity), [&] {
    // A copy of the compressed A, so compressed too (Subgraph reads the arrays directly).
    return normalised_affinity(*shared_raw_affinity(ctx, which, graph, affinity));
  });
}

std::shared_ptr<const Eigenpairs> shared_eigenpairs(const RerankContext& ctx,
                                                    const std::string& which,
                                                    const KnnGraphOptions& graph,
                                                    const AffinityOptions& affinity, int rank,
                                                    const std::string& solver) {
  database_embedding(ctx.database, which);
  const std::string key = eigenpairs_key(which, graph, affinity, rank, solver);
  return ctx.artefacts.get<Eigenpairs>(key, [&] {
    const SparseMatrix& s = *shared_affinity(ctx, which, graph, affinity);
    // S = D^-1/2 A D^-1/2 with A >= 0 is similar to the stochastic D^-1 A: its spectrum
    // lies in [-1, 1], a far tighter floor for the filter than Gershgorin's.
    SubspaceOptions options;
    options.lower_bound = -1;
    return solver == "lanczos" ? top_eigenpairs(s, rank) : subspace_eigenpairs(s, rank, options);
  });
}

}  // namespace hamster
