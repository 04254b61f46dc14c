#pragma once
// Truncated diffusion works on the subgraph T of the database graph that one query touches.
// Its nodes get local indices 0..|T|-1 through a dense global -> local array (-1 = not in
// T) that each thread keeps across queries and resets after each, so building T and its
// submatrix costs O(|T| k), never O(n).
#include <cstdint>
#include <vector>

#include "framework/graph/affinity.h"

namespace hamster {

class Subgraph {
 public:
  // local_of: n entries, all -1; they are -1 again when this object is destroyed.
  explicit Subgraph(std::vector<int32_t>& local_of) : local_of_(local_of) {}
  ~Subgraph() {
    for (int64_t id : nodes_) local_of_[id] = -1;
  }
  Subgraph(const Subgraph&) = delete;
  Subgraph& operator=(const Subgraph&) = delete;

  // The local index of database item `id`, adding it to T if it is new.
  int32_t add(int64_t id) {
    int32_t& local = local_of_[id];
    if (local < 0) {
      local = static_cast<int32_t>(nodes_.size());
      nodes_.push_back(id);
    }
    return local;
  }

  // Adds every graph neighbour (non-zero of s's row) of the nodes in T now.
  void add_neighbours(const SparseMatrix& s) {
    const size_t before = nodes_.size();
    for (size_t i = 0; i < before; ++i)
      for (SparseMatrix::InnerIterator it(s, nodes_[i]); it; ++it) add(it.col());
  }

  int64_t size() const { return static_cast<int64_t>(nodes_.size()); }
  const std::vector<int64_t>& nodes() const { return nodes_; }

  // S_T (s compressed): the rows and columns of s for T's nodes, in local indices. Row i
  // holds the entries of s's row nodes()[i] whose column is in T, in s's column order (so
  // columns are not sorted by local index: right for products, not for coeff()). One scan
  // of T's rows, written straight into the result; the rows ahead are prefetched, as
  // scattered rows of a large graph make this loop wait on memory, not arithmetic.
  SparseMatrix submatrix(const SparseMatrix& s) const {
    const int64_t m = size();
    const auto* outer = s.outerIndexPtr();
    const auto* inner = s.innerIndexPtr();
    const float* values = s.valuePtr();
    int64_t bound = 0;
    for (int64_t id : nodes_) bound += outer[id + 1] - outer[id];
    SparseMatrix sub(m, m);
    sub.resizeNonZeros(bound);
    auto* sub_outer = sub.outerIndexPtr();
    auto* sub_inner = sub.innerIndexPtr();
    float* sub_values = sub.valuePtr();
    constexpr int64_t kAhead = 4;
    int64_t out = 0;
    for (int64_t i = 0; i < m; ++i) {
      if (i + kAhead < m) {
        const int64_t ahead = outer[nodes_[i + kAhead]];
        __builtin_prefetch(inner + ahead);
        __builtin_prefetch(values + ahead);
      }
      sub_outer[i] = out;
      for (int64_t e = outer[nodes_[i]]; e < outer[nodes_[i] + 1]; ++e)
        if (const int32_t j = local_of_[inner[e]]; j >= 0) {
          sub_inner[out] = j;
          sub_values[out++] = values[e];
        }
    }
    sub_outer[m] = out;
    sub.resizeNonZeros(out);
    return sub;
  }

 private:
  std::vector<int32_t>& local_of_;
  std::vector<int64_t> nodes_;
};

}  // namespace hamster
