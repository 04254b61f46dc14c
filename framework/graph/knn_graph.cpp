#include "framework/graph/knn_graph.h"

#include "framework/graph/gram.h"

// hnswlib.h defines non-inline functions: this must stay the only file that includes it.
#include <fmt/format.h>
#include <hnswlib/hnswlib.h>
#include <tbb/parallel_for.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <tuple>

#include "framework/error.h"

namespace hamster {
namespace fs = std::filesystem;

namespace {

void check_finite(const Embedding& m, const char* what) {
  if (m.allFinite()) return;
  for (int64_t i = 0; i < m.rows(); ++i)
    if (!m.row(i).allFinite())
      throw Error(fmt::format("{}: row {} holds a NaN or infinity", what, i));
}

void check_k(int64_t n, int k) {
  if (k < 1 || k >= n)
    throw Error(fmt::format("kNN graph: k = {} must be in [1, n) with n = {} items", k, n));
}

// The neighbour order every graph uses: more similar first, ties by the smaller id.
struct Neighbour {
  float sim;
  int32_t id;
  bool operator<(const Neighbour& o) const { return sim > o.sim || (sim == o.sim && id < o.id); }
};

// Writes the k best of `candidates` (all distinct ids, `self` already left out) into row
// `i` of the graph. `candidates` is reordered.
void write_row(std::vector<Neighbour>& candidates, int64_t i, KnnGraph& g) {
  auto kth = candidates.begin() + g.k;
  std::nth_element(candidates.begin(), kth - 1, candidates.end());
  std::sort(candidates.begin(), kth);
  for (int j = 0; j < g.k; ++j) {
    g.ids[i * g.k + j] = candidates[j].id;
    g.sims[i * g.k + j] = candidates[j].sim;
  }
}

// Row i of the exact graph from its similarities to every item.
void exact_row(const float* sims, int64_t i, std::vector<Neighbour>& buffer, KnnGraph& g) {
  buffer.clear();
  for (int64_t j = 0; j < g.n; ++j)
    if (j != i) buffer.push_back({sims[j], static_cast<int32_t>(j)});
  write_row(buffer, i, g);
}

KnnGraph empty_graph(int64_t n, int k) {
  KnnGraph g;
  g.n = n, g.k = k;
  g.ids.resize(n * k);
  g.sims.resize(n * k);
  return g;
}

// The hnsw index navigates on bfloat16 copies of the rows (a float's top 16 bits): half
// the memory traffic, which is what graph search spends its time on; the candidates it
// finds are then ranked by exact float inner products.
using Bf16 = uint16_t;

Bf16 to_bf16(float f) {  // round to nearest even; the rows hold no NaN
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return static_cast<Bf16>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

// 1 - <a, b> over bf16 vectors, SSE2 (every x86-64 has it). A fixed summation order, so a
// distance is the same whichever thread computes it.
float bf16_ip_distance(const void* pa, const void* pb, const void* pdim) {
  const auto* a = static_cast<const Bf16*>(pa);
  const auto* b = static_cast<const Bf16*>(pb);
  const size_t dim = *static_cast<const size_t*>(pdim);
  size_t i = 0;
  float sum = 0;
#ifdef __SSE2__
  // Ask for every cache line of b at once: the loads then overlap instead of waiting on
  // each other (b is usually a random row far from the cache).
  for (size_t line = 0; line < dim; line += 32)
    _mm_prefetch(reinterpret_cast<const char*>(b + line), _MM_HINT_T0);
  // Interleaving with zeros puts each bf16 in the top half of a float lane.
  const __m128i zero = _mm_setzero_si128();
  const auto lo = [&](__m128i v) { return _mm_castsi128_ps(_mm_unpacklo_epi16(zero, v)); };
  const auto hi = [&](__m128i v) { return _mm_castsi128_ps(_mm_unpackhi_epi16(zero, v)); };
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(), s3 = _mm_setzero_ps();
  for (; i + 16 <= dim; i += 16) {
    const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 8));
    const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 8));
    s0 = _mm_add_ps(s0, _mm_mul_ps(lo(a0), lo(b0)));
    s1 = _mm_add_ps(s1, _mm_mul_ps(hi(a0), hi(b0)));
    s2 = _mm_add_ps(s2, _mm_mul_ps(lo(a1), lo(b1)));
    s3 = _mm_add_ps(s3, _mm_mul_ps(hi(a1), hi(b1)));
  }
  float lanes[4];
  _mm_storeu_ps(lanes, _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
  sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
  for (; i < dim; ++i) {
    const uint32_t x = uint32_t{a[i]} << 16, y = uint32_t{b[i]} << 16;
    float fx, fy;
    std::memcpy(&fx, &x, sizeof(fx));
    std::memcpy(&fy, &y, sizeof(fy));
    sum += fx * fy;
  }
  return 1 - sum;
}

class Bf16InnerProduct : public hnswlib::SpaceInterface<float> {
 public:
  explicit Bf16InnerProduct(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(Bf16); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return bf16_ip_distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  size_t dim_;
};

// hnswlib's parallel addPoint links each item to whatever happened to be inserted before
// it, so the graph depends on thread timing. This index inserts in batches instead: every
// item of a batch searches the graph as the previous batches left it (in parallel, nothing
// is written), then the links are added, each list by one task and in id order. The
// graph is then a function of the data and the seed alone. An item does not see the
// others of its own batch; batches are kept below 1/kBatchFraction of the graph so that
// costs little recall.
class BatchedHnsw : public hnswlib::HierarchicalNSW<float> {
 public:
  static constexpr int64_t kBatchFraction = 32;
  static constexpr int64_t kMaxBatch = 1024;

  // `rows`: n vectors of the space's size, kept by the caller while the index lives.
  BatchedHnsw(hnswlib::SpaceInterface<float>* space, const Bf16* rows, int64_t n, int M,
              int ef_construction, uint64_t seed)
      : HierarchicalNSW(space, n, M, ef_construction, seed), rows_(rows), n_(n) {}

  void insert_all() {
    // Levels are drawn in id order, as a serial build would draw them.
    for (int64_t i = 0; i < n_; ++i) element_levels_[i] = getRandomLevel(mult_);
    int64_t done = 0;
    while (done < n_) {
      const int64_t batch = std::clamp(done / kBatchFraction, int64_t{1}, kMaxBatch);
      const int64_t end = std::min(n_, done + batch);
      insert_batch(done, end);
      done = end;
    }
  }

  // The `ef` nearest items to item i that a beam search from i itself finds (i included).
  // Reads the finished index only, so any number of these may run at once.
  std::vector<int32_t> candidates(int64_t i, size_t ef) const {
    auto top = searchBaseLayerST<false, false>(static_cast<hnswlib::tableint>(i), vec(i), ef);
    std::vector<int32_t> ids;
    for (; !top.empty(); top.pop()) ids.push_back(static_cast<int32_t>(top.top().second));
    return ids;
  }

 private:
  using MaxHeap =
      std::priority_queue<std::pair<float, hnswlib::tableint>,
                          std::vector<std::pair<float, hnswlib::tableint>>, CompareByFirst>;
  struct Link {
    int level;
    hnswlib::tableint to, from;  // add `from` to `to`'s list at `level`
    bool operator<(const Link& o) const {
      return std::tie(level, to, from) < std::tie(o.level, o.to, o.from);
    }
  };

  const Bf16* vec(int64_t i) const { return rows_ + i * (data_size_ / sizeof(Bf16)); }

  // Storage for item i, as addPoint sets it up; no links yet.
  void allocate(int64_t i) {
    const auto id = static_cast<hnswlib::tableint>(i);
    std::memset(data_level0_memory_ + i * size_data_per_element_ + offsetLevel0_, 0,
                size_data_per_element_);
    setExternalLabel(id, static_cast<hnswlib::labeltype>(i));
    std::memcpy(getDataByInternalId(id), vec(i), data_size_);
    const int level = element_levels_[i];
    if (level > 0) {
      // Freed by hnswlib's destructor. hnswlib's searches prefetch the id after a list's
      // last one, so a full top-level list is read one id past its end: pad for it.
      const size_t bytes = size_links_per_element_ * level + sizeof(hnswlib::tableint);
      linkLists_[i] = static_cast<char*>(std::malloc(bytes));
      if (!linkLists_[i]) throw std::bad_alloc();
      std::memset(linkLists_[i], 0, bytes);
    }
  }

  void insert_batch(int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) allocate(i);
    if (begin == 0) {  // the first item is the entry point; it has nobody to link to
      enterpoint_node_ = 0;
      maxlevel_ = element_levels_[0];
      cur_element_count = end;
      return;
    }
    // Search: each item's chosen neighbours per level, against the graph of [0, begin).
    std::vector<std::vector<Link>> found(end - begin);
    tbb::parallel_for(begin, end, [&](int64_t i) { found[i - begin] = select_neighbours(i); });
    // Link: each item's own lists, then each older item's list (one task per list).
    std::vector<Link> back;
    for (const auto& links : found) {
      for (const Link& l : links) back.push_back({l.level, l.from, l.to});
    }
    std::sort(back.begin(), back.end());
    std::vector<size_t> starts;
    for (size_t j = 0; j < back.size(); ++j)
      if (j == 0 || back[j].level != back[j - 1].level || back[j].to != back[j - 1].to)
        starts.push_back(j);
    starts.push_back(back.size());
    tbb::parallel_for(begin, end, [&](int64_t i) { set_own_links(found[i - begin]); });
    tbb::parallel_for(size_t{0}, starts.size() - 1, [&](size_t g) {
      for (size_t j = starts[g]; j < starts[g + 1]; ++j) add_back_link(back[j]);
    });
    cur_element_count = end;
    for (int64_t i = begin; i < end; ++i) {
      if (element_levels_[i] > maxlevel_) {
        maxlevel_ = element_levels_[i];
        enterpoint_node_ = static_cast<hnswlib::tableint>(i);
      }
    }
  }

  // addPoint's search: greedy descent to the item's level, then at each level down to 0
  // the ef_construction nearest, thinned by hnswlib's heuristic to M (links from i).
  std::vector<Link> select_neighbours(int64_t i) {
    const Bf16* q = vec(i);
    const int level = element_levels_[i];
    hnswlib::tableint cur = enterpoint_node_;
    float cur_dist = fstdistfunc_(q, getDataByInternalId(cur), dist_func_param_);
    for (int l = maxlevel_; l > level; --l) {
      for (bool changed = true; changed;) {
        changed = false;
        hnswlib::linklistsizeint* list = get_linklist(cur, l);
        const auto* ids = reinterpret_cast<const hnswlib::tableint*>(list + 1);
        for (int j = 0; j < getListCount(list); ++j) {
          const float d = fstdistfunc_(q, getDataByInternalId(ids[j]), dist_func_param_);
          if (d < cur_dist) cur_dist = d, cur = ids[j], changed = true;
        }
      }
    }
    std::vector<Link> links;
    for (int l = std::min(level, maxlevel_); l >= 0; --l) {
      MaxHeap top = searchBaseLayer(cur, q, l);
      getNeighborsByHeuristic2(top, M_);
      // Popped farthest first; the nearest (last) starts the search one level down.
      while (!top.empty()) {
        links.push_back({l, static_cast<hnswlib::tableint>(i), top.top().second});
        cur = top.top().second;
        top.pop();
      }
    }
    return links;
  }

  // `links` all leave one new item: its lists, in the order select_neighbours chose.
  void set_own_links(const std::vector<Link>& links) {
    for (size_t j = 0; j < links.size();) {
      const Link& first = links[j];
      hnswlib::linklistsizeint* list = get_linklist_at_level(first.to, first.level);
      auto* ids = reinterpret_cast<hnswlib::tableint*>(list + 1);
      size_t count = 0;
      for (; j < links.size() && links[j].level == first.level; ++j) ids[count++] = links[j].from;
      setListCount(list, static_cast<unsigned short>(count));
    }
  }

  // mutuallyConnectNewElement's back link: append `from` to `to`'s list, or when full
  // keep what hnswlib's heuristic keeps of the list plus `from`.
  void add_back_link(const Link& link) {
    const size_t capacity = link.level ? maxM_ : maxM0_;
    hnswlib::linklistsizeint* list = get_linklist_at_level(link.to, link.level);
    auto* ids = reinterpret_cast<hnswlib::tableint*>(list + 1);
    const size_t count = getListCount(list);
    if (count < capacity) {
      ids[count] = link.from;
      setListCount(list, static_cast<unsigned short>(count + 1));
      return;
    }
    const char* to = getDataByInternalId(link.to);
    MaxHeap candidates;
    candidates.emplace(fstdistfunc_(getDataByInternalId(link.from), to, dist_func_param_),
                       link.from);
    for (size_t j = 0; j < count; ++j)
      candidates.emplace(fstdistfunc_(getDataByInternalId(ids[j]), to, dist_func_param_), ids[j]);
    getNeighborsByHeuristic2(candidates, capacity);
    size_t kept = 0;
    for (; !candidates.empty(); candidates.pop()) ids[kept++] = candidates.top().second;
    setListCount(list, static_cast<unsigned short>(kept));
  }

  const Bf16* rows_;
  int64_t n_;
};

KnnGraph hnsw_knn_graph(const Embedding& x, const KnnGraphOptions& o) {
  const int64_t n = x.rows();
  std::vector<Bf16> rows(x.size());
  for (int64_t i = 0; i < x.size(); ++i) rows[i] = to_bf16(x.data()[i]);
  Bf16InnerProduct space(x.cols());
  BatchedHnsw index(&space, rows.data(), n, o.M, o.ef_construction, o.seed);
  index.insert_all();
  // The beam must hold the item itself and k others.
  const int ef = std::max(o.k + 1, o.ef_search > 0 ? o.ef_search : o.ef_construction);
  KnnGraph g = empty_graph(n, o.k);
  // Each item's own search, started from the item itself, ranked by exact similarity.
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<Neighbour> row;
    for (int64_t i = r.begin(); i != r.end(); ++i) {
      row.clear();
      for (int32_t id : index.candidates(i, ef))
        if (id != i) row.push_back({x.row(i).dot(x.row(id)), id});
      if (static_cast<int64_t>(row.size()) >= o.k) {
        write_row(row, i, g);
      } else {  // the search came back short (a poorly connected item): do this row exactly
        const Eigen::VectorXf sims = x * x.row(i).transpose();
        exact_row(sims.data(), i, row, g);
      }
    }
  });
  return g;
}

constexpr char kMagic[8] = {'H', 'M', 'K', 'N', 'N', 'G', '0', '1'};
constexpr size_t kHeader = sizeof(kMagic) + sizeof(int64_t) + 2 * sizeof(int32_t);

}  // namespace

Embedding l2_normalised(const Embedding& m) {
  check_finite(m, "l2_normalised");
  Embedding out = m;
  for (int64_t i = 0; i < out.rows(); ++i) {
    const float norm = out.row(i).norm();
    if (norm > 0) out.row(i) /= norm;
  }
  return out;
}

namespace {

// The columns that are non-zero in some row. Deep features come out of a ReLU, and many
// units never fire (208 of DSH's 500 on Fashion-MNIST): dropping them leaves every inner
// product as it was and spares the graph build their memory traffic.
std::vector<int64_t> live_columns(const Embedding& m) {
  std::vector<int64_t> live;
  for (int64_t c = 0; c < m.cols(); ++c)
    if ((m.col(c).array() != 0.0f).any()) live.push_back(c);
  return live;
}

}  // namespace

KnnGraph build_knn_graph(const Embedding& normalised, const KnnGraphOptions& options) {
  const std::vector<int64_t> live = live_columns(normalised);
  if (!live.empty() && static_cast<int64_t>(live.size()) < normalised.cols()) {
    Embedding compact(normalised.rows(), static_cast<int64_t>(live.size()));
    for (size_t j = 0; j < live.size(); ++j) compact.col(j) = normalised.col(live[j]);
    return build_knn_graph(compact, options);
  }
  if (options.method == "exact") return exact_knn_graph(normalised, options.k);
  if (options.method != "hnsw")
    throw Error("kNN graph: unknown method '" + options.method + "' (known: hnsw, exact)");
  check_k(normalised.rows(), options.k);
  check_finite(normalised, "kNN graph");
  if (options.M < 2 || options.ef_construction < 1 || options.ef_search < 0)
    throw Error(
        fmt::format("kNN graph: hnsw needs M >= 2, ef_construction >= 1, ef_search >= 0 "
                    "(got M = {}, ef_construction = {}, ef_search = {})",
                    options.M, options.ef_construction, options.ef_search));
  return hnsw_knn_graph(normalised, options);
}

KnnGraph exact_knn_graph(const Embedding& normalised, int k) {
  const int64_t n = normalised.rows();
  check_k(n, k);
  check_finite(normalised, "kNN graph");
  KnnGraph g = empty_graph(n, k);
  // Blocks of rows against every item: each block's products stay under ~64 MB.
  const int64_t rows = std::clamp<int64_t>((int64_t{1} << 24) / n, 1, 1024);
  const int64_t blocks = (n + rows - 1) / rows;
  tbb::parallel_for(int64_t{0}, blocks, [&](int64_t b) {
    const int64_t begin = b * rows, count = std::min(rows, n - begin);
    Embedding sims;  // through BLAS: several times Eigen's baseline-x86-64 product
    cross_products(normalised.middleRows(begin, count), normalised, sims);
    std::vector<Neighbour> buffer;
    for (int64_t r = 0; r < count; ++r) exact_row(sims.row(r).data(), begin + r, buffer, g);
  });
  return g;
}

double knn_recall(const KnnGraph& approx, const KnnGraph& exact) {
  if (approx.n != exact.n || approx.k != exact.k || approx.n == 0)
    throw Error(fmt::format("knn_recall: graphs of n = {}, k = {} and n = {}, k = {}", approx.n,
                            approx.k, exact.n, exact.k));
  double sum = 0;
  std::vector<int32_t> a, b;
  for (int64_t i = 0; i < approx.n; ++i) {
    a.assign(approx.neighbours(i), approx.neighbours(i) + approx.k);
    b.assign(exact.neighbours(i), exact.neighbours(i) + exact.k);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::vector<int32_t> both;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
    sum += static_cast<double>(both.size()) / approx.k;
  }
  return sum / approx.n;
}

// Native byte order (the project targets x86-64): magic, int64 n, int32 k, int32 zero,
// then n * k int32 ids and n * k float similarities.
void save_knn_graph(const fs::path& file, const KnnGraph& g) {
  std::ofstream out(file, std::ios::binary);
  if (!out) throw Error("cannot write " + file.string());
  const int32_t k = g.k, zero = 0;
  out.write(kMagic, sizeof(kMagic));
  out.write(reinterpret_cast<const char*>(&g.n), sizeof(g.n));
  out.write(reinterpret_cast<const char*>(&k), sizeof(k));
  out.write(reinterpret_cast<const char*>(&zero), sizeof(zero));
  out.write(reinterpret_cast<const char*>(g.ids.data()), g.ids.size() * sizeof(int32_t));
  out.write(reinterpret_cast<const char*>(g.sims.data()), g.sims.size() * sizeof(float));
  if (!out) throw Error("write failed: " + file.string());
}

KnnGraph load_knn_graph(const fs::path& file, int64_t expected_n, int expected_k) {
  const std::string name = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read kNN graph " + name);
  std::error_code ec;
  const auto size = static_cast<int64_t>(fs::file_size(file, ec));
  char magic[sizeof(kMagic)];
  if (!in.read(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0)
    throw Error(name + ": not a hamster kNN graph file (bad magic)");
  int64_t n = 0;
  int32_t k = 0, zero = 0;
  in.read(reinterpret_cast<char*>(&n), sizeof(n));
  in.read(reinterpret_cast<char*>(&k), sizeof(k));
  in.read(reinterpret_cast<char*>(&zero), sizeof(zero));
  if (!in) throw Error(name + ": truncated kNN graph header");
  if (n < 2 || n > INT32_MAX || k < 1 || k >= n)
    throw Error(fmt::format("{}: bad sizes n = {}, k = {}", name, n, k));
  // 8 bytes (an id and a similarity) per edge; written so that nothing can overflow.
  const int64_t body = size - static_cast<int64_t>(kHeader), row = 8 * n;
  if (ec || body < 0 || body % row != 0 || body / row != k)
    throw Error(fmt::format("{}: {} bytes do not hold n = {}, k = {} (truncated or corrupt)", name,
                            size, n, k));
  if (expected_n >= 0 && n != expected_n)
    throw Error(fmt::format("{}: graph of {} items, expected {}", name, n, expected_n));
  if (expected_k >= 0 && k != expected_k)
    throw Error(fmt::format("{}: graph with k = {}, expected {}", name, k, expected_k));
  KnnGraph g = empty_graph(n, k);
  in.read(reinterpret_cast<char*>(g.ids.data()), g.ids.size() * sizeof(int32_t));
  in.read(reinterpret_cast<char*>(g.sims.data()), g.sims.size() * sizeof(float));
  if (!in) throw Error(name + ": truncated kNN graph");
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < k; ++j) {
      const int32_t id = g.ids[i * k + j];
      if (id < 0 || id >= n || id == i)
        throw Error(fmt::format("{}: row {} lists neighbour {} (n = {})", name, i, id, n));
    }
  return g;
}

}  // namespace hamster
