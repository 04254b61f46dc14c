#include "framework/codes/hamming_search.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <string>

#include "framework/error.h"

namespace hamster {

// ---- Kernel choice -----------------------------------------------------------------------

const std::vector<const HammingKernel*>& supported_hamming_kernels() {
  static const std::vector<const HammingKernel*> supported = [] {
    std::vector<const HammingKernel*> out = {&scalar_hamming_kernel()};
#if defined(__x86_64__)
    // __builtin_cpu_supports also checks that the OS saves the wide registers.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"))
      out.push_back(&avx2_hamming_kernel());
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512bitalg"))
      out.push_back(&avx512_hamming_kernel());
#endif
    return out;
  }();
  return supported;
}

const HammingKernel& hamming_kernel(const std::string& name) {
  std::string supported;
  for (const HammingKernel* k : supported_hamming_kernels()) {
    if (name == k->name) return *k;
    supported += std::string(supported.empty() ? "" : ", ") + k->name;
  }
  const bool known = name == "scalar" || name == "avx2" || name == "avx512";
  if (known)
    throw Error("Hamming kernel '" + name +
                "' needs instructions this CPU lacks (it runs: " + supported + ")");
  throw Error("unknown Hamming kernel '" + name + "' (known: scalar, avx2, avx512)");
}

const HammingKernel& default_hamming_kernel() {
  const char* forced = std::getenv("HAMSTER_HAMMING_KERNEL");
  if (forced == nullptr || *forced == '\0') return *supported_hamming_kernels().back();
  try {
    return hamming_kernel(forced);
  } catch (const Error& e) {
    throw Error(std::string("HAMSTER_HAMMING_KERNEL: ") + e.what());
  }
}

namespace {

// ---- Argument checks ---------------------------------------------------------------------

// Distances are stored as uint16.
constexpr int kMaxBits = 65535;

void check_search(const BinaryCodes& queries, const BinaryCodes& db, const char* what) {
  if (db.size() == 0) throw Error(std::string(what) + ": the database is empty");
  if (queries.bits() != db.bits())
    throw Error(std::string(what) + ": query codes have " + std::to_string(queries.bits()) +
                " bits but database codes have " + std::to_string(db.bits()));
  if (db.bits() > kMaxBits)
    throw Error(std::string(what) + ": codes of " + std::to_string(db.bits()) +
                " bits are longer than the " + std::to_string(kMaxBits) + " supported");
}

void check_k(int64_t k, int64_t database_size) {
  if (k < 1) throw Error("hamming_knn: k = " + std::to_string(k) + " must be at least 1");
  if (k > database_size)
    throw Error("hamming_knn: k = " + std::to_string(k) + " is larger than the database (" +
                std::to_string(database_size) + " items)");
}

// ---- The database, tile by tile ----------------------------------------------------------

// Queries that share one pass over the database, and the tile of the database they walk
// together: a tile is copied out of the database (packed, when codes are short) once per
// block of queries, then served to each of the block's queries from L1. On Zen 5 (48 KiB
// L1), walking 1M 64-bit codes with 16 queries per tile ran 30% slower than with 128, the
// first query of each tile waiting on memory; tiles of 16 to 32 KiB measured alike.
constexpr int64_t kQueryBlock = 128;
constexpr int64_t kTileBytes = 24 << 10;

// A buffer whose data starts on a cache line: a 64-byte vector load from it never
// straddles two lines (loads that do cost the AVX-512 scan a quarter of its speed on Zen 5).
template <class T>
class LineAligned {
 public:
  void resize(int64_t n) { storage_.resize(static_cast<size_t>(n) + 64 / sizeof(T)); }
  T* data() {
    const auto at = reinterpret_cast<uintptr_t>(storage_.data());
    return reinterpret_cast<T*>((at + 63) & ~uintptr_t{63});
  }

 private:
  std::vector<T> storage_;
};

// One thread's view of the database for a kernel: the current tile, copied to a
// line-aligned buffer and packed into 16- or 32-bit lanes when the codes fit (2 or 4
// times as many codes per vector register as 64-bit rows), and the kernel's hit buffers.
class TileScanner {
 public:
  TileScanner(const HammingKernel& kernel, const BinaryCodes& db)
      : kernel_(&kernel),
        db_(&db),
        lane_bits_(db.bits() <= 16   ? 16
                   : db.bits() <= 32 ? 32
                                     : 0) {
    const int64_t code_bytes = lane_bits_ ? lane_bits_ / 8 : 8 * db.words();
    tile_rows_ = std::max<int64_t>(1, kTileBytes / code_bytes);
    pos_.resize(tile_rows_);
    dist_.resize(tile_rows_);
    if (lane_bits_ == 16) lanes16_.resize(tile_rows_);
    if (lane_bits_ == 32) lanes32_.resize(tile_rows_);
    if (lane_bits_ == 0) rows_.resize(tile_rows_ * db.words());
  }

  int64_t tile_rows() const { return tile_rows_; }

  // Makes database rows [begin, end) the current tile; end - begin <= tile_rows().
  void load(int64_t begin, int64_t end) {
    begin_ = begin;
    const uint64_t* rows = db_->row(begin);
    const int64_t n = end - begin;
    if (lane_bits_ == 16) {
      uint16_t* out = lanes16_.data();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint16_t>(rows[i]);
    } else if (lane_bits_ == 32) {
      uint32_t* out = lanes32_.data();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint32_t>(rows[i]);
    } else {
      std::copy_n(rows, n * db_->words(), rows_.data());
    }
  }

  // Rows [from, to) of the current tile closer than `limit` to the query: returns how many;
  // hit i is row from + pos()[i] at distance dist()[i], in index order.
  int64_t below(const uint64_t* query, int64_t from, int64_t to, int limit) {
    const int64_t at = from - begin_;
    const int64_t n = to - from;
    if (lane_bits_ == 16)
      return kernel_->below_u16(static_cast<uint16_t>(query[0]), lanes16_.data() + at, n, limit,
                                pos_.data(), dist_.data());
    if (lane_bits_ == 32)
      return kernel_->below_u32(static_cast<uint32_t>(query[0]), lanes32_.data() + at, n, limit,
                                pos_.data(), dist_.data());
    return kernel_->below_rows(query, rows_.data() + at * db_->words(), n, db_->words(), limit,
                               pos_.data(), dist_.data());
  }

  const uint32_t* pos() const { return pos_.data(); }
  const uint16_t* dist() const { return dist_.data(); }

 private:
  const HammingKernel* kernel_;
  const BinaryCodes* db_;
  int lane_bits_;  // 16 or 32 when codes are packed into lanes, 0 for whole rows
  int64_t tile_rows_ = 0;
  int64_t begin_ = 0;
  LineAligned<uint16_t> lanes16_;
  LineAligned<uint32_t> lanes32_;
  LineAligned<uint64_t> rows_;
  std::vector<uint32_t> pos_;
  std::vector<uint16_t> dist_;
};

// While a kNN query's limit is still falling fast (its first rows), a kernel handed the
// limit of the moment would report many rows that the limit has dropped past by the time
// they are read. So a query's first rows go in pieces that grow with the rows it has seen.
constexpr int64_t kFirstPiece = 64;

// Walks database rows [begin, end) for queries [q0, q1), tile by tile, and hands each
// query's collector, in index order, every row closer than its limit() at that moment:
// collectors[q - q0].accept(row, distance), which may lower the limit.
template <class Collector>
void scan_block(TileScanner& tiles, const BinaryCodes& queries, int64_t q0, int64_t q1,
                int64_t begin, int64_t end, Collector* collectors) {
  for (int64_t t0 = begin; t0 < end; t0 += tiles.tile_rows()) {
    const int64_t t1 = std::min(end, t0 + tiles.tile_rows());
    tiles.load(t0, t1);
    for (int64_t q = q0; q < q1; ++q) {
      Collector& c = collectors[q - q0];
      for (int64_t from = t0; from < t1;) {
        const int64_t to = std::min(t1, from + std::max(kFirstPiece, from - begin));
        const int64_t hits = tiles.below(queries.row(q), from, to, c.limit());
        const uint32_t* pos = tiles.pos();
        const uint16_t* dist = tiles.dist();
        for (int64_t h = 0; h < hits; ++h)
          if (dist[h] < c.limit()) c.accept(from + pos[h], dist[h]);
        from = to;
      }
    }
  }
}

// ---- Parallel plan -----------------------------------------------------------------------

// A database range below this is not worth a task of its own.
constexpr int64_t kMinPartRows = 1 << 16;

int worker_count() {
  const size_t allowed =
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  return static_cast<int>(
      std::min<size_t>(static_cast<size_t>(tbb::this_task_arena::max_concurrency()), allowed));
}

// Tasks are (query block, database part) pairs. The database is cut into parts only when
// there are too few query blocks to keep every thread busy; results do not depend on it.
struct Plan {
  int64_t queries = 0;
  int64_t rows = 0;
  int64_t blocks = 0;
  int64_t parts = 1;

  // split_rows = false keeps one part whatever the number of queries.
  Plan(int64_t nq, int64_t n, bool split_rows = true)
      : queries(nq), rows(n), blocks((nq + kQueryBlock - 1) / kQueryBlock) {
    const int64_t threads = worker_count();
    if (split_rows && threads > 1 && blocks < 2 * threads)
      parts = std::clamp<int64_t>((2 * threads + blocks - 1) / blocks, 1,
                                  std::max<int64_t>(1, n / kMinPartRows));
  }
  int64_t part_begin(int64_t p) const { return rows * p / parts; }

  // Calls task(q0, q1, part) for every query block and part, in parallel.
  template <class Task>
  void run(Task&& task) const {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, blocks * parts),
                      [&](const tbb::blocked_range<int64_t>& r) {
                        for (int64_t t = r.begin(); t < r.end(); ++t) {
                          const int64_t q0 = (t / parts) * kQueryBlock;
                          task(q0, std::min(queries, q0 + kQueryBlock), t % parts);
                        }
                      });
  }
};

// ---- k nearest neighbours by counting ----------------------------------------------------

// The k best rows seen so far by (distance, index), built in one pass in index order.
// Because rows arrive in index order, a new row beats the current k-th best exactly when
// its distance is smaller, so once k rows are in, a row is accepted only if d < limit,
// the current k-th smallest distance. Accepted rows are kept in index order with a
// histogram of their distances; the limit drops as soon as k accepted rows lie below it.
// Every k accepted rows force a drop and the limit can drop at most `bits` times, so at
// most k * (bits + 1) rows are ever accepted whatever the database size (about
// k * ln(N / k) on random codes: some 800 for k = 100 of a million). finish() then selects
// by counting, never by sorting.
class RunningTopK {
 public:
  void reset(int bits, int64_t k) {
    k_ = k;
    cutoff_ = bits;
    limit_ = bits + 1;  // until k rows are in, every row is accepted
    at_or_below_ = 0;
    hist_.assign(static_cast<size_t>(bits) + 1, 0);
    ids_.clear();
    dist_.clear();
  }

  int limit() const { return limit_; }

  // Called for rows with d < limit(), in increasing index order.
  void accept(int64_t j, int d) {
    ids_.push_back(j);
    dist_.push_back(static_cast<uint16_t>(d));
    ++hist_[d];
    ++at_or_below_;  // d < limit_ <= cutoff_ + 1
    if (static_cast<int64_t>(ids_.size()) < k_) return;
    while (at_or_below_ - hist_[cutoff_] >= k_) at_or_below_ -= hist_[cutoff_--];
    limit_ = cutoff_;
  }

  // Writes the k best, by distance and then index. Needs at least k accepted rows.
  void finish(int64_t* ids, int32_t* distances) {
    const int c = cutoff_;
    // Counting sort over 0..c: start position of each distance in the output.
    offset_.resize(static_cast<size_t>(c) + 1);
    int64_t start = 0;
    for (int d = 0; d <= c; ++d) offset_[d] = start, start += hist_[d];
    // Rows at the cutoff fill what is left after every closer row, first come first served.
    int64_t ties_left = k_ - offset_[c];
    for (size_t i = 0; i < ids_.size(); ++i) {
      const int d = dist_[i];
      if (d > c) continue;
      if (d == c) {
        if (ties_left == 0) continue;
        --ties_left;
      }
      const int64_t at = offset_[d]++;
      ids[at] = ids_[i];
      distances[at] = d;
    }
  }

 private:
  int64_t k_ = 0;
  int cutoff_ = 0;           // smallest distance with at least k accepted rows at or below it
  int limit_ = 0;            // a row is accepted iff its distance is below this
  int64_t at_or_below_ = 0;  // accepted rows with distance <= cutoff_
  std::vector<int64_t> hist_;
  std::vector<int64_t> ids_;
  std::vector<uint16_t> dist_;
  std::vector<int64_t> offset_;
};

// The k best of one query from its parts' lists (part p: counts[p] entries at p * k, by
// distance then index), by distance then index. Parts cover the database in index order,
// so walking them in order meets the rows of each distance in index order.
void merge_parts(const int64_t* part_ids, const int32_t* part_dist, const int64_t* counts,
                 int64_t parts, int bits, int64_t k, std::vector<int64_t>& offset, int64_t* ids,
                 int32_t* distances) {
  offset.assign(static_cast<size_t>(bits) + 2, 0);
  for (int64_t p = 0; p < parts; ++p)
    for (int64_t i = 0; i < counts[p]; ++i) ++offset[part_dist[p * k + i] + 1];
  int cutoff = 0;
  for (int64_t below = 0; below + offset[cutoff + 1] < k; ++cutoff) below += offset[cutoff + 1];
  for (int d = 0; d <= bits; ++d) offset[d + 1] += offset[d];
  int64_t ties_left = k - offset[cutoff];
  for (int64_t p = 0; p < parts; ++p)
    for (int64_t i = 0; i < counts[p]; ++i) {
      const int d = part_dist[p * k + i];
      if (d > cutoff || (d == cutoff && ties_left == 0)) break;  // the rest of p is farther
      if (d == cutoff) --ties_left;
      const int64_t at = offset[d]++;
      ids[at] = part_ids[p * k + i];
      distances[at] = d;
    }
}

// RunningTopK over distinct codes, each standing for its posting list's rows. Codes do
// not arrive in the order of their rows (a later code may hold an earlier row), so a code
// at the cutoff distance may still place rows in the k best: the limit stays one above
// the cutoff, the smallest distance with at least k rows at or below it. finish() hands
// the accepted codes to a PostingExpander.
class DistinctTopK {
 public:
  void reset(const DistinctCodes& codes, int64_t k) {
    codes_ = &codes;
    k_ = k;
    cutoff_ = codes.bits();
    at_or_below_ = 0;
    hist_.assign(static_cast<size_t>(codes.bits()) + 1, 0);
    found_.clear();
  }

  int limit() const { return cutoff_ + 1; }

  // Called for distinct codes with d < limit(), in increasing code order.
  void accept(int64_t c, int d) {
    found_.push_back({c, d});
    const int64_t rows = codes_->count(c);
    hist_[d] += rows;
    at_or_below_ += rows;  // d <= cutoff_
    while (cutoff_ > 0 && at_or_below_ - hist_[cutoff_] >= k_) at_or_below_ -= hist_[cutoff_--];
  }

  // Writes the k best rows, by distance and then index.
  void finish(PostingExpander& expander, int64_t* ids, int32_t* distances) {
    expander.expand(*codes_, found_, cutoff_, k_, ids, distances);
  }

 private:
  const DistinctCodes* codes_ = nullptr;
  int64_t k_ = 0;
  int cutoff_ = 0;
  int64_t at_or_below_ = 0;  // rows of accepted codes with distance <= cutoff_
  std::vector<int64_t> hist_;
  std::vector<FoundCode> found_;
};

// The automatic path takes the distinct codes when there are at least kDistinctQueries
// queries (a block of them: collecting the distinct codes costs about as much as 15 ns a
// row, a scan of 128 queries 3 to 6 ns a row). Codes that are nearly all distinct
// (random or LSH codes) show it in their first rows: a sample of kDistinctSample rows more
// than 90% distinct sends the search to the scan at once. Otherwise collecting stops as
// soon as the distinct codes pass kDistinctShare of the database. On the quickstart's DSH
// codes (69,000 rows, 1,561 / 4,869 / 7,780 distinct at 16 / 32 / 64 bits) the distinct
// path, collecting included, ran 1.4 to 3.4 times as many queries/s as the scan
// (bench_hamming --codes, docs/benchmarks.md).
constexpr int64_t kDistinctQueries = 128;
constexpr int64_t kDistinctSample = 4096;
constexpr double kDistinctShare = 0.25;

// The distinct codes of db when they are few enough to pay back, else nothing.
std::optional<DistinctCodes> distinct_if_few(const BinaryCodes& db) {
  const int64_t sample = std::min(db.size(), kDistinctSample);
  std::vector<int64_t> first(sample);
  std::iota(first.begin(), first.end(), int64_t{0});
  if (!DistinctCodes::at_most(db.subset(first), sample * 9 / 10)) return std::nullopt;
  return DistinctCodes::at_most(
      db, static_cast<int64_t>(kDistinctShare * static_cast<double>(db.size())));
}

void knn_over_distinct(const BinaryCodes& queries, const DistinctCodes& db, int64_t k, int64_t* ids,
                       int32_t* distances, const HammingKernel& kernel) {
  const int64_t nq = queries.size();
  if (nq == 0) return;
  // Parallel over query blocks only: the distinct codes are few, and one part keeps the
  // expansion in one place.
  const Plan plan(nq, db.size(), false);
  struct Scratch {
    TileScanner tiles;
    std::vector<DistinctTopK> tops;
    PostingExpander expander;
  };
  tbb::enumerable_thread_specific<Scratch> scratch([&] {
    return Scratch{{kernel, db.codes()}, {}, {}};
  });
  plan.run([&](int64_t q0, int64_t q1, int64_t) {
    Scratch& s = scratch.local();
    s.tops.resize(q1 - q0);
    for (DistinctTopK& top : s.tops) top.reset(db, k);
    scan_block(s.tiles, queries, q0, q1, 0, db.size(), s.tops.data());
    for (int64_t q = q0; q < q1; ++q)
      s.tops[q - q0].finish(s.expander, ids + q * k, distances + q * k);
  });
}

// A radius query's collector: every row below a fixed limit, in index order.
struct WithinRadius {
  int limit_ = 0;
  std::vector<int64_t> ids;
  std::vector<uint16_t> dist;
  int limit() const { return limit_; }
  void accept(int64_t j, int d) {
    ids.push_back(j);
    dist.push_back(static_cast<uint16_t>(d));
  }
};

}  // namespace

void hamming_distances(const uint64_t* query, const BinaryCodes& db, uint16_t* out,
                       const HammingKernel& kernel) {
  if (db.size() == 0) return;
  if (db.bits() > kMaxBits)
    throw Error("hamming_distances: codes of " + std::to_string(db.bits()) +
                " bits are longer than the " + std::to_string(kMaxBits) + " supported");
  kernel.distances(query, db.row(0), db.size(), db.words(), out);
}

void rank_by_distance(const uint16_t* dist, int64_t n, int bits, int64_t* order) {
  if (bits < 0) throw Error("rank_by_distance: bits = " + std::to_string(bits) + " is negative");
  std::vector<int64_t> start(static_cast<size_t>(bits) + 2, 0);
  for (int64_t j = 0; j < n; ++j) {
    if (dist[j] > bits)
      throw Error("rank_by_distance: distance " + std::to_string(dist[j]) + " at index " +
                  std::to_string(j) + " exceeds " + std::to_string(bits) + " bits");
    ++start[dist[j] + 1];
  }
  for (int d = 0; d <= bits; ++d) start[d + 1] += start[d];
  for (int64_t j = 0; j < n; ++j) order[start[dist[j]]++] = j;
}

const char* knn_path_name(KnnPath path) {
  switch (path) {
    case KnnPath::automatic:
      return "automatic";
    case KnnPath::scan:
      return "scan";
    case KnnPath::distinct:
      return "distinct";
  }
  return "?";
}

KnnPath knn_path(const std::string& name) {
  for (KnnPath p : {KnnPath::automatic, KnnPath::scan, KnnPath::distinct})
    if (name == knn_path_name(p)) return p;
  throw Error("unknown Hamming kNN path '" + name + "' (known: automatic, scan, distinct)");
}

void hamming_knn(const BinaryCodes& queries, const DistinctCodes& db, int64_t k, int64_t* ids,
                 int32_t* distances, const HammingKernel& kernel) {
  check_search(queries, db.codes(), "hamming_knn");
  check_k(k, db.database_size());
  knn_over_distinct(queries, db, k, ids, distances, kernel);
}

void hamming_knn(const BinaryCodes& queries, const BinaryCodes& db, int64_t k, int64_t* ids,
                 int32_t* distances, const HammingKernel& kernel, KnnPath path, KnnPath* taken) {
  check_search(queries, db, "hamming_knn");
  check_k(k, db.size());
  KnnPath ignored;
  if (!taken) taken = &ignored;
  *taken = path == KnnPath::distinct ? KnnPath::distinct : KnnPath::scan;
  const int64_t nq = queries.size();
  if (nq == 0) return;
  if (path == KnnPath::distinct) {
    knn_over_distinct(queries, DistinctCodes(db), k, ids, distances, kernel);
    return;
  }
  if (path == KnnPath::automatic && nq >= kDistinctQueries) {
    if (const std::optional<DistinctCodes> distinct = distinct_if_few(db)) {
      *taken = KnnPath::distinct;
      knn_over_distinct(queries, *distinct, k, ids, distances, kernel);
      return;
    }
  }
  const Plan plan(nq, db.size());
  // With one part, each query's best go straight to the outputs; with several, each part's
  // best go to part_ids / part_dist ([query][part][k]) and are merged afterwards.
  std::vector<int64_t> part_ids, part_counts;
  std::vector<int32_t> part_dist;
  if (plan.parts > 1) {
    part_ids.resize(nq * plan.parts * k);
    part_dist.resize(nq * plan.parts * k);
    for (int64_t p = 0; p < plan.parts; ++p)
      part_counts.push_back(std::min(k, plan.part_begin(p + 1) - plan.part_begin(p)));
  }
  struct Scratch {
    TileScanner tiles;
    std::vector<RunningTopK> tops;
  };
  tbb::enumerable_thread_specific<Scratch> scratch([&] { return Scratch{{kernel, db}, {}}; });
  plan.run([&](int64_t q0, int64_t q1, int64_t p) {
    Scratch& s = scratch.local();
    const int64_t begin = plan.part_begin(p), end = plan.part_begin(p + 1);
    s.tops.resize(q1 - q0);
    for (RunningTopK& top : s.tops) top.reset(db.bits(), std::min(k, end - begin));
    scan_block(s.tiles, queries, q0, q1, begin, end, s.tops.data());
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t at = plan.parts > 1 ? (q * plan.parts + p) * k : q * k;
      int64_t* out_ids = plan.parts > 1 ? part_ids.data() + at : ids + at;
      int32_t* out_dist = plan.parts > 1 ? part_dist.data() + at : distances + at;
      s.tops[q - q0].finish(out_ids, out_dist);
    }
  });
  if (plan.parts == 1) return;
  tbb::enumerable_thread_specific<std::vector<int64_t>> offsets;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, nq), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t q = r.begin(); q < r.end(); ++q) {
      const int64_t at = q * plan.parts * k;
      merge_parts(part_ids.data() + at, part_dist.data() + at, part_counts.data(), plan.parts,
                  db.bits(), k, offsets.local(), ids + q * k, distances + q * k);
    }
  });
}

std::vector<Shortlist> hamming_knn(const BinaryCodes& queries, const BinaryCodes& db, int64_t k,
                                   const HammingKernel& kernel, KnnPath path, KnnPath* taken) {
  check_search(queries, db, "hamming_knn");
  check_k(k, db.size());
  const int64_t nq = queries.size();
  std::vector<int64_t> ids(nq * k);
  std::vector<int32_t> distances(nq * k);
  hamming_knn(queries, db, k, ids.data(), distances.data(), kernel, path, taken);
  std::vector<Shortlist> out(nq);
  for (int64_t q = 0; q < nq; ++q) {
    out[q].ids.assign(ids.begin() + q * k, ids.begin() + (q + 1) * k);
    out[q].scores.assign(distances.begin() + q * k, distances.begin() + (q + 1) * k);
  }
  return out;
}

std::vector<Shortlist> hamming_radius(const BinaryCodes& queries, const BinaryCodes& db, int radius,
                                      const HammingKernel& kernel) {
  check_search(queries, db, "hamming_radius");
  const int64_t nq = queries.size();
  std::vector<Shortlist> out(nq);
  if (radius < 0 || nq == 0) return out;
  const int r_max = std::min(radius, db.bits());
  // Each (part, query) collects its rows in index order ([part][query], so a block's
  // collectors sit side by side); parts are then joined in order and counting-sorted.
  const Plan plan(nq, db.size());
  std::vector<WithinRadius> found(plan.parts * nq);
  for (WithinRadius& f : found) f.limit_ = r_max + 1;
  tbb::enumerable_thread_specific<TileScanner> scratch([&] { return TileScanner(kernel, db); });
  plan.run([&](int64_t q0, int64_t q1, int64_t p) {
    scan_block(scratch.local(), queries, q0, q1, plan.part_begin(p), plan.part_begin(p + 1),
               found.data() + p * nq + q0);
  });
  tbb::enumerable_thread_specific<std::vector<int64_t>> offsets;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, nq), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<int64_t>& offset = offsets.local();
    for (int64_t q = r.begin(); q < r.end(); ++q) {
      offset.assign(static_cast<size_t>(r_max) + 2, 0);
      for (int64_t p = 0; p < plan.parts; ++p)
        for (uint16_t d : found[p * nq + q].dist) ++offset[d + 1];
      for (int d = 0; d <= r_max; ++d) offset[d + 1] += offset[d];
      Shortlist& sl = out[q];
      sl.ids.resize(offset[r_max + 1]);
      sl.scores.resize(offset[r_max + 1]);
      for (int64_t p = 0; p < plan.parts; ++p) {
        const WithinRadius& f = found[p * nq + q];
        for (size_t i = 0; i < f.ids.size(); ++i) {
          const int64_t at = offset[f.dist[i]]++;
          sl.ids[at] = f.ids[i];
          sl.scores[at] = static_cast<float>(f.dist[i]);
        }
      }
    }
  });
  return out;
}

}  // namespace hamster
