#pragma once
// Small value types shared by every stage of the pipeline.
#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "framework/codes/binary_codes.h"

namespace hamster {

// One row per item, row-major so a row is a contiguous float vector.
using Embedding = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// What a hasher produces for a set of items.
struct Encoded {
  BinaryCodes codes;   // sign of `real`
  Embedding real;      // the hash layer's real-valued output (n x bits), before sign
  Embedding features;  // the deep feature (n x D) re-rankers may use; may be empty
};

// One query's candidates, best first. Stage 1 scores are Hamming distances; a re-ranker
// replaces them with its own score (lower is better for both).
struct Shortlist {
  std::vector<int64_t> ids;
  std::vector<float> scores;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

}  // namespace hamster
