#pragma once
// Truncated diffusion works on the subgraph T of the database graph that one query touches.
// Its nodes get local indices 0..|T|-1 through a dense global -> local array (-1 = not in
// T) that each thread keeps across queries and resets after each, so building T and its
// submatrix costs O(|T| k), never O(n).
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

  // S_T (s compressed): the rows and columns of s for T's nodes, in local indices, compressed,
  // columns sorted within each row. One scan of s's rows collects the entries inside T;
  // they are then placed as the transpose (equal, as s is symmetric): scattering row i's
  // entries into their columns for i = 0, 1, ... leaves every row sorted without a sort.
  SparseMatrix submatrix(const SparseMatrix& s) const {
    const int64_t m = size();
    const int64_t* outer = s.outerIndexPtr();
    const int64_t* inner = s.innerIndexPtr();
    const float* values = s.valuePtr();
    SparseMatrix sub(m, m);
    int64_t* sub_outer = sub.outerIndexPtr();
    std::vector<int64_t> row_end(m);  // entries of row i: entries[row_end[i-1], row_end[i])
    std::vector<std::pair<int32_t, float>> entries;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t e = outer[nodes_[i]]; e < outer[nodes_[i] + 1]; ++e)
        if (const int32_t j = local_of_[inner[e]]; j >= 0) {
          entries.emplace_back(j, values[e]);
          ++sub_outer[j + 1];
        }
      row_end[i] = static_cast<int64_t>(entries.size());
    }
    for (int64_t j = 0; j < m; ++j) sub_outer[j + 1] += sub_outer[j];
    sub.resizeNonZeros(sub_outer[m]);
    std::vector<int64_t> next(sub_outer, sub_outer + m);
    int64_t* sub_inner = sub.innerIndexPtr();
    float* sub_values = sub.valuePtr();
    for (int64_t i = 0, e = 0; i < m; ++i)
      for (; e < row_end[i]; ++e) {
        const auto [j, value] = entries[e];
        sub_inner[next[j]] = i;
        sub_values[next[j]++] = value;
      }
    return sub;
  }

 private:
  std::vector<int32_t>& local_of_;
  std::vector<int64_t> nodes_;
};

}  // namespace hamster
