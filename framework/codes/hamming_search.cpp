#include "framework/codes/hamming_search.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <string>
#include <type_traits>

#include "framework/error.h"

namespace hamster {
namespace {

// ---- Distance kernels --------------------------------------------------------------------
// W > 0 fixes the words per code at compile time so the popcount loop unrolls completely;
// W == 0 is the general case reading the length at run time.

template <int W>
inline int distance(const uint64_t* a, const uint64_t* b, int words) {
  const int n = W > 0 ? W : words;
  int d = 0;
  for (int w = 0; w < n; ++w) d += __builtin_popcountll(a[w] ^ b[w]);
  return d;
}

// Calls f(std::integral_constant<int, W>) with the specialisation for `words`.
template <class F>
void with_words(int words, F&& f) {
  switch (words) {
    case 1:
      f(std::integral_constant<int, 1>{});
      break;
    case 2:
      f(std::integral_constant<int, 2>{});
      break;
    default:
      f(std::integral_constant<int, 0>{});
      break;
  }
}

template <int W>
void distances_kernel(const uint64_t* query, const uint64_t* db, int64_t n, int words,
                      uint16_t* out) {
  const int64_t step = W > 0 ? W : words;
  for (int64_t j = 0; j < n; ++j)
    out[j] = static_cast<uint16_t>(distance<W>(query, db + j * step, words));
}

// Visits database rows [begin, end) and calls on_hit(j, d) for each row whose distance d is
// below `limit`; on_hit returns the new limit. Hits are rare (a few per thousand rows for a
// knn query on a large database), so the loop takes four rows at a time and tests only
// their smallest distance: one well-predicted branch per four rows, nothing stored for
// rows that miss. A group with a hit is replayed row by row, in index order.
template <int W, class OnHit>
int scan(const uint64_t* query, const uint64_t* db, int words, int64_t begin, int64_t end,
         int limit, OnHit&& on_hit) {
  const int64_t step = W > 0 ? W : words;
  const uint64_t* r = db + begin * step;
  int64_t j = begin;
  for (; j + 4 <= end; j += 4, r += 4 * step) {
    const int d0 = distance<W>(query, r, words);
    const int d1 = distance<W>(query, r + step, words);
    const int d2 = distance<W>(query, r + 2 * step, words);
    const int d3 = distance<W>(query, r + 3 * step, words);
    if (__builtin_expect(std::min(std::min(d0, d1), std::min(d2, d3)) < limit, 0)) {
      if (d0 < limit) limit = on_hit(j, d0);
      if (d1 < limit) limit = on_hit(j + 1, d1);
      if (d2 < limit) limit = on_hit(j + 2, d2);
      if (d3 < limit) limit = on_hit(j + 3, d3);
    }
  }
  for (; j < end; ++j, r += step) {
    const int d = distance<W>(query, r, words);
    if (d < limit) limit = on_hit(j, d);
  }
  return limit;
}

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

void check_k(int64_t k, const BinaryCodes& db) {
  if (k < 1) throw Error("hamming_knn: k = " + std::to_string(k) + " must be at least 1");
  if (k > db.size())
    throw Error("hamming_knn: k = " + std::to_string(k) + " is larger than the database (" +
                std::to_string(db.size()) + " items)");
}

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

  // Called for rows with d < limit(), in increasing index order; returns the new limit.
  int accept(int64_t j, int d) {
    ids_.push_back(j);
    dist_.push_back(static_cast<uint16_t>(d));
    ++hist_[d];
    ++at_or_below_;  // d < limit_ <= cutoff_ + 1
    if (static_cast<int64_t>(ids_.size()) < k_) return limit_;
    while (at_or_below_ - hist_[cutoff_] >= k_) at_or_below_ -= hist_[cutoff_--];
    return limit_ = cutoff_;
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

// Queries that share one pass over the database, and the database slice they walk
// together: each slice is read from memory once per block and then served to all the
// block's queries from cache (64 KiB sits in L2 on any current x86).
constexpr int64_t kQueryBlock = 16;
constexpr int64_t kSliceBytes = 64 << 10;

template <int W>
void knn_block(const BinaryCodes& queries, int64_t q0, int64_t q1, const BinaryCodes& db, int64_t k,
               std::vector<RunningTopK>& tops, int64_t* ids, int32_t* distances) {
  const int64_t n = db.size();
  const int words = db.words();
  const int64_t slice = std::max<int64_t>(1, kSliceBytes / (8 * words));
  tops.resize(q1 - q0);
  for (int64_t q = q0; q < q1; ++q) tops[q - q0].reset(db.bits(), k);
  for (int64_t j0 = 0; j0 < n; j0 += slice) {
    const int64_t j1 = std::min(n, j0 + slice);
    for (int64_t q = q0; q < q1; ++q) {
      RunningTopK& top = tops[q - q0];
      scan<W>(queries.row(q), db.row(0), words, j0, j1, top.limit(),
              [&top](int64_t j, int d) { return top.accept(j, d); });
    }
  }
  for (int64_t q = q0; q < q1; ++q) tops[q - q0].finish(ids + q * k, distances + q * k);
}

}  // namespace

void hamming_distances(const uint64_t* query, const BinaryCodes& db, uint16_t* out) {
  if (db.size() == 0) return;
  if (db.bits() > kMaxBits)
    throw Error("hamming_distances: codes of " + std::to_string(db.bits()) +
                " bits are longer than the " + std::to_string(kMaxBits) + " supported");
  with_words(db.words(), [&](auto w) {
    distances_kernel<decltype(w)::value>(query, db.row(0), db.size(), db.words(), out);
  });
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

void hamming_knn(const BinaryCodes& queries, const BinaryCodes& db, int64_t k, int64_t* ids,
                 int32_t* distances) {
  check_search(queries, db, "hamming_knn");
  check_k(k, db);
  const int64_t nq = queries.size();
  if (nq == 0) return;
  tbb::enumerable_thread_specific<std::vector<RunningTopK>> scratch;
  with_words(db.words(), [&](auto w) {
    constexpr int W = decltype(w)::value;
    const tbb::blocked_range<int64_t> all(0, nq, kQueryBlock);
    tbb::parallel_for(all, [&](const tbb::blocked_range<int64_t>& r) {
      std::vector<RunningTopK>& tops = scratch.local();
      for (int64_t q0 = r.begin(); q0 < r.end(); q0 += kQueryBlock)
        knn_block<W>(queries, q0, std::min(r.end(), q0 + kQueryBlock), db, k, tops, ids, distances);
    });
  });
}

std::vector<Shortlist> hamming_knn(const BinaryCodes& queries, const BinaryCodes& db, int64_t k) {
  check_search(queries, db, "hamming_knn");
  check_k(k, db);
  const int64_t nq = queries.size();
  std::vector<int64_t> ids(nq * k);
  std::vector<int32_t> distances(nq * k);
  hamming_knn(queries, db, k, ids.data(), distances.data());
  std::vector<Shortlist> out(nq);
  for (int64_t q = 0; q < nq; ++q) {
    out[q].ids.assign(ids.begin() + q * k, ids.begin() + (q + 1) * k);
    out[q].scores.assign(distances.begin() + q * k, distances.begin() + (q + 1) * k);
  }
  return out;
}

std::vector<Shortlist> hamming_radius(const BinaryCodes& queries, const BinaryCodes& db,
                                      int radius) {
  check_search(queries, db, "hamming_radius");
  const int64_t nq = queries.size();
  std::vector<Shortlist> out(nq);
  if (radius < 0 || nq == 0) return out;
  const int r_max = std::min(radius, db.bits());
  // Rows within the radius are collected in index order, then counting-sorted by distance.
  struct Scratch {
    std::vector<int64_t> ids;
    std::vector<uint16_t> dist;
    std::vector<int64_t> offset;
  };
  tbb::enumerable_thread_specific<Scratch> scratch;
  with_words(db.words(), [&](auto w) {
    constexpr int W = decltype(w)::value;
    const tbb::blocked_range<int64_t> all(0, nq);
    tbb::parallel_for(all, [&](const tbb::blocked_range<int64_t>& r) {
      Scratch& s = scratch.local();
      for (int64_t q = r.begin(); q < r.end(); ++q) {
        s.ids.clear();
        s.dist.clear();
        s.offset.assign(static_cast<size_t>(r_max) + 2, 0);
        scan<W>(queries.row(q), db.row(0), db.words(), 0, db.size(), r_max + 1,
                [&s, r_max](int64_t j, int d) {
                  s.ids.push_back(j);
                  s.dist.push_back(static_cast<uint16_t>(d));
                  ++s.offset[d + 1];
                  return r_max + 1;
                });
        for (int d = 0; d <= r_max; ++d) s.offset[d + 1] += s.offset[d];
        Shortlist& sl = out[q];
        sl.ids.resize(s.ids.size());
        sl.scores.resize(s.ids.size());
        for (size_t i = 0; i < s.ids.size(); ++i) {
          const int64_t at = s.offset[s.dist[i]]++;
          sl.ids[at] = s.ids[i];
          sl.scores[at] = static_cast<float>(s.dist[i]);
        }
      }
    });
  });
  return out;
}

}  // namespace hamster
