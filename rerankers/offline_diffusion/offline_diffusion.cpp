// offline_diffusion: diffusion decoupled into offline and online parts (Yang, Li, Yang, Wang,
// Song, Hua: "Efficient Image Retrieval via Decoupling Diffusion into Online and Offline
// Processing", AAAI 2019).
//   - Offline, once per build: for every database item j, F_j solves (I - alpha S_T) F_j =
//     e_j by conjugate gradient on T_j, j's `truncation` nearest database items (j itself
//     first); S_T is the block of the global S = D^-1/2 A D^-1/2 of the mutual kNN graph for
//     T_j (their code: the truncated rows and columns of the global Laplacian, not
//     renormalised). The non-zero entries of every F_j are kept as one sparse artefact, built
//     in parallel (TBB) and cached on disk beside the model.
//   - Online: f = sum over the query's kq nearest database items j of max(0, cos)^gamma F_j
//     (linearity: the solution for the seed vector y is the y-weighted sum of the e_j
//     solutions). The shortlist is ranked by f; items f never reached follow in cosine order.
// T_j is found by a scan of the database (graph: exact) or, over the hnsw graph, among the
// items within two (if too few, three) graph hops of j, ranked by cosine.
// Defaults: the paper's and Iscen et al.'s (k 50, gamma 3, alpha 0.99, truncation 1000,
// 20 CG iterations, tol 1e-6), kq 10.
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "framework/error.h"
#include "framework/graph/gram.h"
#include "framework/graph/shared.h"
#include "framework/reranker.h"
#include "rerankers/diffusion/graph_params.h"
#include "rerankers/diffusion/query_neighbours.h"
#include "rerankers/diffusion/subgraph.h"
#include "rerankers/qe/expansion.h"
#include "rerankers/score_sort.h"

namespace hamster {
namespace {

const char* const kName = "offline_diffusion";

struct OfflineOptions : GraphRankOptions {
  int truncation = 1000;
  float tol = 1e-6f;
  int iterations = 20;
};

OfflineOptions read_options(const Params& p) {
  OfflineOptions o;
  static_cast<GraphRankOptions&>(o) = read_graph_rank_options(p, kName);
  o.truncation = p.get_int("truncation");
  const double tol = p.get_double("tol");
  o.tol = static_cast<float>(tol);
  o.iterations = p.get_int("iterations");
  const auto check = [](bool ok, const std::string& message) {
    if (!ok) throw Error(std::string(kName) + ": " + message);
  };
  check(o.truncation >= 1, "truncation must be >= 1, got " + std::to_string(o.truncation));
  check(tol > 0, "tol must be > 0, got " + number_text(tol));
  check(o.iterations >= 1, "iterations must be >= 1, got " + std::to_string(o.iterations));
  return o;
}

// F: row j holds the non-zero entries of F_j (database ids, values), in T_j's order.
struct OfflineSolutions {
  int64_t n = 0;
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> ids;
  std::vector<float> values;
  double cg_iterations_mean = 0, cg_residual_max = 0;  // of the offline solves
};

// Each item's `count` most similar database items (itself included), best first, by a scan
// in blocks of rows through BLAS.
std::vector<std::vector<int32_t>> nearest_by_scan_all(const Embedding& x, int count) {
  const int64_t n = x.rows();
  const int64_t rows = std::clamp<int64_t>((int64_t{1} << 22) / std::max<int64_t>(n, 1), 1, 256);
  std::vector<std::vector<int32_t>> out(n);
  tbb::parallel_for(int64_t{0}, (n + rows - 1) / rows, [&](int64_t b) {
    const int64_t begin = b * rows, m = std::min(rows, n - begin);
    const RowMatrix block = x.middleRows(begin, m);
    RowMatrix sims;
    cross_products(block, x, sims);
    std::vector<Neighbour> all(n);
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = 0; j < n; ++j) all[j] = {j, sims(r, j)};
      all[begin + r].similarity = 2;  // itself first, whatever rounding gives
      const int64_t top = std::min<int64_t>(count, n);
      std::nth_element(all.begin(), all.begin() + (top - 1), all.end(), better);
      std::sort(all.begin(), all.begin() + top, better);
      for (int64_t t = 0; t < top; ++t) out[begin + r].push_back(static_cast<int32_t>(all[t].id));
    }
  });
  return out;
}

// Item j's `count` most similar items among those within two graph hops (three when two give
// fewer than `count`), itself first. The hops are walked first and the cosines computed
// after, with rows prefetched ahead: the candidates' rows lie scattered over the database.
std::vector<int32_t> nearest_by_hops(const Embedding& x, const KnnGraph& graph, int64_t j,
                                     int count, VisitMarks& marks) {
  marks.next_query(graph.n);
  std::vector<int32_t> ids = {static_cast<int32_t>(j)};
  marks.visit(j);
  size_t hop_begin = 0;
  for (int hop = 0; hop < 3 && (hop < 2 || ids.size() < static_cast<size_t>(count)); ++hop) {
    const size_t hop_end = ids.size();
    for (size_t i = hop_begin; i < hop_end; ++i) {
      const int32_t* row = graph.neighbours(ids[i]);
      for (int t = 0; t < graph.k; ++t)
        if (marks.visit(row[t])) ids.push_back(row[t]);
    }
    hop_begin = hop_end;
  }
  std::vector<float> sims(ids.size());
  dot_rows(x, x.row(j), ids, sims.data());
  std::vector<Neighbour> found(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) found[i] = {ids[i], sims[i]};
  found[0].similarity = 2;  // itself first
  const size_t top = std::min(found.size(), static_cast<size_t>(count));
  std::nth_element(found.begin(), found.begin() + (top - 1), found.end(), better);
  std::sort(found.begin(), found.begin() + top, better);
  std::vector<int32_t> out(top);
  for (size_t t = 0; t < top; ++t) out[t] = static_cast<int32_t>(found[t].id);
  return out;
}

struct BuildScratch {
  std::vector<int32_t> local_of;
  VisitMarks marks;
};

OfflineSolutions solve_offline(const Embedding& x, const SparseMatrix& s, const KnnGraph* graph,
                               const OfflineOptions& o) {
  const int64_t n = x.rows();
  std::vector<std::vector<int32_t>> truncations;
  if (!graph) truncations = nearest_by_scan_all(x, o.truncation);
  std::vector<std::vector<std::pair<int32_t, float>>> rows(n);
  std::vector<int> iterations(n);
  std::vector<float> residuals(n);
  tbb::enumerable_thread_specific<BuildScratch> scratch([n] {
    return BuildScratch{std::vector<int32_t>(n, -1), {}};
  });
  tbb::parallel_for(int64_t{0}, n, [&](int64_t j) {
    BuildScratch& local = scratch.local();
    const std::vector<int32_t> ids =
        graph ? nearest_by_hops(x, *graph, j, o.truncation, local.marks) : truncations[j];
    Subgraph t(local.local_of);
    for (int32_t id : ids) t.add(id);
    const SparseMatrix s_t = t.submatrix(s);
    Eigen::VectorXf y = Eigen::VectorXf::Zero(t.size());
    y[0] = 1;  // e_j: j is T_j's first node
    Eigen::VectorXf f = Eigen::VectorXf::Zero(t.size());
    const CgResult r =
        conjugate_gradient(s_t, static_cast<float>(o.alpha), y, f, o.tol, o.iterations);
    iterations[j] = r.iterations;
    residuals[j] = r.residual;
    for (int64_t i = 0; i < t.size(); ++i)
      if (f[i] > 0) rows[j].emplace_back(static_cast<int32_t>(t.nodes()[i]), f[i]);
  });
  OfflineSolutions out;
  out.n = n;
  for (int64_t j = 0; j < n; ++j) {
    for (const auto& [id, v] : rows[j]) out.ids.push_back(id), out.values.push_back(v);
    out.offsets.push_back(static_cast<int64_t>(out.ids.size()));
    out.cg_iterations_mean += iterations[j] / static_cast<double>(n);
    out.cg_residual_max = std::max<double>(out.cg_residual_max, residuals[j]);
  }
  return out;
}

// On disk (native byte order): magic, int64 n, int64 entries, double iterations mean,
// double residual max, then n + 1 int64 offsets, the int32 ids and the float values.
constexpr char kMagic[8] = {'H', 'M', 'S', 'O', 'F', 'F', 'D', '1'};

void save_solutions(const std::filesystem::path& file, const OfflineSolutions& f) {
  std::ofstream out(file, std::ios::binary);
  if (!out) throw Error("cannot write " + file.string());
  const int64_t entries = static_cast<int64_t>(f.ids.size());
  out.write(kMagic, sizeof(kMagic));
  out.write(reinterpret_cast<const char*>(&f.n), sizeof(f.n));
  out.write(reinterpret_cast<const char*>(&entries), sizeof(entries));
  out.write(reinterpret_cast<const char*>(&f.cg_iterations_mean), sizeof(double));
  out.write(reinterpret_cast<const char*>(&f.cg_residual_max), sizeof(double));
  out.write(reinterpret_cast<const char*>(f.offsets.data()), f.offsets.size() * sizeof(int64_t));
  out.write(reinterpret_cast<const char*>(f.ids.data()), f.ids.size() * sizeof(int32_t));
  out.write(reinterpret_cast<const char*>(f.values.data()), f.values.size() * sizeof(float));
  if (!out) throw Error("write failed: " + file.string());
}

OfflineSolutions load_solutions(const std::filesystem::path& file, int64_t expected_n) {
  const std::string name = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read offline diffusion " + name);
  char magic[sizeof(kMagic)];
  if (!in.read(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0)
    throw Error(name + ": not a hamster offline diffusion file (bad magic)");
  OfflineSolutions f;
  int64_t entries = 0;
  in.read(reinterpret_cast<char*>(&f.n), sizeof(f.n));
  in.read(reinterpret_cast<char*>(&entries), sizeof(entries));
  in.read(reinterpret_cast<char*>(&f.cg_iterations_mean), sizeof(double));
  in.read(reinterpret_cast<char*>(&f.cg_residual_max), sizeof(double));
  if (!in) throw Error(name + ": truncated offline diffusion header");
  if (f.n != expected_n)
    throw Error(name + ": solutions for " + std::to_string(f.n) + " items, expected " +
                std::to_string(expected_n));
  std::error_code ec;
  const auto size = static_cast<int64_t>(std::filesystem::file_size(file, ec));
  const int64_t header = sizeof(kMagic) + 2 * sizeof(int64_t) + 2 * sizeof(double);
  if (ec || entries < 0 || size != header + 8 * (f.n + 1) + 8 * entries)
    throw Error(name + ": " + std::to_string(size) + " bytes do not hold " + std::to_string(f.n) +
                " rows and " + std::to_string(entries) + " entries (truncated or corrupt)");
  f.offsets.resize(f.n + 1);
  f.ids.resize(entries);
  f.values.resize(entries);
  in.read(reinterpret_cast<char*>(f.offsets.data()), f.offsets.size() * sizeof(int64_t));
  in.read(reinterpret_cast<char*>(f.ids.data()), f.ids.size() * sizeof(int32_t));
  in.read(reinterpret_cast<char*>(f.values.data()), f.values.size() * sizeof(float));
  if (!in) throw Error(name + ": truncated offline diffusion");
  for (int64_t j = 0; j < f.n; ++j)
    if (f.offsets[j] > f.offsets[j + 1] || f.offsets[j + 1] > entries)
      throw Error(name + ": row " + std::to_string(j) + " has bad offsets");
  for (int32_t id : f.ids)
    if (id < 0 || id >= f.n)
      throw Error(name + ": entry id " + std::to_string(id) + " outside the database");
  return f;
}

struct Scratch {
  std::vector<float> f;  // n entries, zero between queries
  VisitMarks marks;
};

class OfflineDiffusion final : public Reranker {
 public:
  explicit OfflineDiffusion(OfflineOptions options) : o_(std::move(options)) {}

  void prepare(const RerankContext& ctx) override {
    database_ = shared_normalised(ctx, o_.embedding);
    if (o_.graph.method != "exact") graph_ = shared_knn_graph(ctx, o_.embedding, o_.graph);
    const int64_t n = database_->rows();
    const ArtefactStore::Disk<OfflineSolutions> disk{
        save_solutions, [n](const std::filesystem::path& file) { return load_solutions(file, n); }};
    solutions_ = ctx.artefacts.get<OfflineSolutions>(
        solutions_key(),
        [&] {
          const auto s = shared_affinity(ctx, o_.embedding, o_.graph, o_.affinity);
          return solve_offline(*database_, *s, graph_.get(), o_);
        },
        &disk);
    scratch_ = std::make_unique<tbb::enumerable_thread_specific<Scratch>>([n] {
      return Scratch{std::vector<float>(n, 0.0f), {}};
    });
  }

  std::vector<std::string> artefacts() const override {
    const std::string& e = o_.embedding;
    return unique_keys(
        {normalised_artefacts(e),
         o_.graph.method != "exact" ? knn_graph_artefacts(e, o_.graph) : std::vector<std::string>{},
         {solutions_key()},
         affinity_artefacts(e, o_.graph, o_.affinity)});
  }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (!scratch_) throw Error(std::string(kName) + ": rerank() before prepare()");
    rerank_by_similarities(
        queries, lists, o_.embedding, *database_, kName,
        [&](int64_t, const Eigen::RowVectorXf& query, const std::vector<float>& sims,
            const Shortlist& list) { return scores(query, sims, list); });
  }

  std::map<std::string, double> diagnostics() const override {
    if (!solutions_) return {};
    const OfflineSolutions& f = *solutions_;
    const double bytes = static_cast<double>(f.ids.size()) * 8 + f.offsets.size() * 8.0;
    return {{"offline_entries_mean", static_cast<double>(f.ids.size()) / std::max<int64_t>(f.n, 1)},
            {"offline_megabytes", bytes / (1 << 20)},
            {"offline_cg_iterations_mean", f.cg_iterations_mean},
            {"offline_cg_residual_max", f.cg_residual_max}};
  }

 private:
  // Per shortlist position: -f where f > 0, else 2 - cos (after every reached item).
  std::vector<float> scores(const Eigen::RowVectorXf& query, const std::vector<float>& sims,
                            const Shortlist& list) const {
    Scratch& scratch = scratch_->local();
    const std::vector<WeightedId> nearest =
        query_neighbours(query, *database_, graph_.get(), sims, list, o_.kq, o_.affinity.gamma,
                         !o_.graph_seeds, scratch.marks);
    const OfflineSolutions& f = *solutions_;
    for (const WeightedId& j : nearest)
      for (int64_t e = f.offsets[j.id]; e < f.offsets[j.id + 1]; ++e)
        scratch.f[f.ids[e]] += j.weight * f.values[e];
    std::vector<float> out(list.ids.size());
    for (size_t i = 0; i < out.size(); ++i) {
      const float value = scratch.f[list.ids[i]];
      out[i] = value > 0 ? -value : 2 - sims[i];
    }
    for (const WeightedId& j : nearest)
      for (int64_t e = f.offsets[j.id]; e < f.offsets[j.id + 1]; ++e) scratch.f[f.ids[e]] = 0;
    return out;
  }

  OfflineOptions o_;
  std::string solutions_key() const {
    return "offline-diffusion-t" + std::to_string(o_.truncation) + "-alpha" +
           number_text(o_.alpha) + "-it" + std::to_string(o_.iterations) + "-tol" +
           qe::key_number(o_.tol) + "-" + affinity_key(o_.embedding, o_.graph, o_.affinity) +
           ".bin";
  }

  std::shared_ptr<const Embedding> database_;
  std::shared_ptr<const KnnGraph> graph_;  // hnsw: truncation sets and the query's search
  std::shared_ptr<const OfflineSolutions> solutions_;
  std::unique_ptr<tbb::enumerable_thread_specific<Scratch>> scratch_;
};

const RegisterReranker kRegister(
    kName,
    "offline diffusion (Yang et al. 2019): each database item's truncated diffusion solved "
    "once per build; online, the query's nearest items' solutions summed",
    graph_rank_specs(
        {{"kq", "10", "the query's nearest database items whose solutions are summed"},
         {"seeds", "graph",
          "where those come from: graph (the whole database, through the graph) or shortlist"},
         {"truncation", "1000", "nodes of each item's offline subgraph (its nearest items)"},
         {"tol", "1e-6", "conjugate gradient: relative residual to stop at"},
         {"iterations", "20", "conjugate gradient: most iterations"},
         {"embedding", "feature", "feature (deep feature) or real (hash layer output)"},
         {"mutual", "true", "keep only mutual kNN edges"}}),
    [](const Params& p) { return std::make_unique<OfflineDiffusion>(read_options(p)); });

}  // namespace
}  // namespace hamster
