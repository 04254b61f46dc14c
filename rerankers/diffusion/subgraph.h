#pragma once
// Truncated diffusion works on the subgraph T of the database graph that one query touches.
// Its nodes get local indices 0..|T|-1 through a dense global -> local array (-1 = not in
// T) that each thread keeps across queries and resets after each, so building T and its
// submatrix costs O(|T| k), never O(n).
#include <algorithm>
#include <cstdint>
#include <utility>
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

  // S_T: the rows and columns of s for T's nodes, in local indices (compressed, columns
  // sorted within each row).
  SparseMatrix submatrix(const SparseMatrix& s) const {
    const int64_t m = size();
    SparseMatrix sub(m, m);
    std::vector<std::pair<int32_t, float>> row;
    std::vector<int32_t> cols;
    std::vector<float> values;
    for (int64_t i = 0; i < m; ++i) {
      row.clear();
      for (SparseMatrix::InnerIterator it(s, nodes_[i]); it; ++it)
        if (const int32_t local = local_of_[it.col()]; local >= 0) row.emplace_back(local, it.value());
      std::sort(row.begin(), row.end());
      for (const auto& [col, value] : row) {
        cols.push_back(col);
        values.push_back(value);
      }
      sub.outerIndexPtr()[i + 1] = static_cast<int64_t>(cols.size());
    }
    sub.resizeNonZeros(static_cast<int64_t>(cols.size()));
    std::copy(cols.begin(), cols.end(), sub.innerIndexPtr());
    std::copy(values.begin(), values.end(), sub.valuePtr());
    return sub;
  }

 private:
  std::vector<int32_t>& local_of_;
  std::vector<int64_t> nodes_;
};

}  // namespace hamster
