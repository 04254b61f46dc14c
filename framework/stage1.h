#pragma once
// Stage 1 (candidate generation): the exact Hamming shortlist of every query, the L
// nearest database codes with ties in database order (docs/protocol.md). A registered plugin
// like hashers and re-rankers, chosen in the config (`stage1: NAME`, `hamster list`
// shows them). Every registered search is exact: the same ids in the same order as the
// plain scan (tests/test_stage1.cpp), so the choice changes speed only, never a number,
// and is not part of a cell's identity.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/codes/binary_codes.h"
#include "framework/registry.h"
#include "framework/types.h"

namespace hamster {

class Stage1Search {
 public:
  virtual ~Stage1Search() = default;
  // The `shortlist` nearest rows of `db` for every query (scores = distances).
  virtual std::vector<Shortlist> search(const BinaryCodes& queries, const BinaryCodes& db,
                                        int64_t shortlist) = 0;
  // What the last search ran: its own name, or for `automatic` the path it chose.
  virtual std::string ran() const = 0;
};

using Stage1Registry = Registry<Stage1Search>;

// The registered names (and a reference that keeps the registrations linked in).
std::vector<std::string> stage1_names();

// What a cell's stage 1 did: the shortlists, the search that ran and its time.
struct Stage1Run {
  std::vector<Shortlist> lists;
  std::string ran;
  double us_per_query = 0;
};

// Runs the stage-1 search `name` (Error naming the known ones for any other).
Stage1Run run_stage1(const std::string& name, const BinaryCodes& queries, const BinaryCodes& db,
                     int64_t shortlist);

}  // namespace hamster
