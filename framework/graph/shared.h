#pragma once
// The graph artefacts re-rankers share, built once per build through the RerankContext's
// ArtefactStore and cached on disk beside the model. The key of each names the embedding
// and every option, so two re-rankers asking for the same graph get the same object.
#include <memory>
#include <string>
#include <vector>

#include "framework/graph/solvers.h"
#include "framework/reranker.h"

namespace hamster {

// Which embedding of the database a graph is built over: "feature" (the deep feature)
// or "real" (the hash layer's real-valued output). Throws Error naming the accepted values,
// or when the database has no such embedding.
const Embedding& database_embedding(const Encoded& database, const std::string& which);
const Embedding& query_embedding(const Encoded& queries, const std::string& which);

// The keys of the shared graph artefacts. A re-ranker that keeps an artefact of its own
// derived from one of them (DBA's augmented database, spectral's embedding) appends its own
// options to that key, so its artefact is keyed by everything it depends on. `which` must be
// feature or real (Error otherwise) before it names a file.
std::string knn_graph_key(const std::string& which, const KnnGraphOptions& graph);
std::string affinity_key(const std::string& which, const KnnGraphOptions& graph,
                         const AffinityOptions& affinity);

// The keys each shared_X below asks the store for, the artefacts it is built from included,
// in the order it asks: what a re-ranker's artefacts() declares (framework/reranker.h).
std::vector<std::string> normalised_artefacts(const std::string& which);
std::vector<std::string> knn_graph_artefacts(const std::string& which,
                                             const KnnGraphOptions& graph);
std::vector<std::string> raw_affinity_artefacts(const std::string& which,
                                                const KnnGraphOptions& graph,
                                                const AffinityOptions& affinity);
std::vector<std::string> affinity_artefacts(const std::string& which, const KnnGraphOptions& graph,
                                            const AffinityOptions& affinity);
std::vector<std::string> eigenpairs_artefacts(const std::string& which,
                                              const KnnGraphOptions& graph,
                                              const AffinityOptions& affinity, int rank,
                                              const std::string& solver = "subspace");
// The keys of `lists` in order, each once.
std::vector<std::string> unique_keys(const std::vector<std::vector<std::string>>& lists);

std::shared_ptr<const Embedding> shared_normalised(const RerankContext& ctx,
                                                   const std::string& which);
std::shared_ptr<const KnnGraph> shared_knn_graph(const RerankContext& ctx, const std::string& which,
                                                 const KnnGraphOptions& options);
// A (a_ij = max(0, cos)^gamma on the graph's edges, symmetric, compressed), and
// S = D^-1/2 A D^-1/2 over it (compressed). Truncated diffusion renormalises parts of A.
std::shared_ptr<const SparseMatrix> shared_raw_affinity(const RerankContext& ctx,
                                                        const std::string& which,
                                                        const KnnGraphOptions& graph,
                                                        const AffinityOptions& affinity);
std::shared_ptr<const SparseMatrix> shared_affinity(const RerankContext& ctx,
                                                    const std::string& which,
                                                    const KnnGraphOptions& graph,
                                                    const AffinityOptions& affinity);
// The top `rank` eigenpairs of the shared S, by `solver`: subspace (Chebyshev-filtered
// subspace iteration, subspace.h) or lanczos (Spectra).
std::shared_ptr<const Eigenpairs> shared_eigenpairs(const RerankContext& ctx,
                                                    const std::string& which,
                                                    const KnnGraphOptions& graph,
                                                    const AffinityOptions& affinity, int rank,
                                                    const std::string& solver = "subspace");

}  // namespace hamster
