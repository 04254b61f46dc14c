// The stage-1 searches of framework/stage1.h. They live beside run_stage1, which the
// runner calls, so their registrations are always linked in.
#include <algorithm>
#include <chrono>
#include <utility>

#include "framework/codes/hamming_search.h"
#include "framework/codes/multi_index.h"
#include "framework/stage1.h"

namespace hamster {
namespace {

// scan, distinct and automatic: hamming_knn's paths (hamming_search.h).
class PathSearch : public Stage1Search {
 public:
  explicit PathSearch(KnnPath path) : path_(path), ran_(path) {}
  std::vector<Shortlist> search(const BinaryCodes& queries, const BinaryCodes& db,
                                int64_t shortlist) override {
    return hamming_knn(queries, db, shortlist, default_hamming_kernel(), path_, &ran_);
  }
  std::string ran() const override { return knn_path_name(ran_); }

 private:
  KnnPath path_, ran_;
};

// Multi-index hashing (multi_index.h) with the paper's substring count, its tables built
// per search (and timed with it).
class MihSearch : public Stage1Search {
 public:
  std::vector<Shortlist> search(const BinaryCodes& queries, const BinaryCodes& db,
                                int64_t shortlist) override {
    return MultiIndexHashing(db).knn(queries, shortlist);
  }
  std::string ran() const override { return "mih"; }
};

Stage1Registry::Factory path_factory(KnnPath path) {
  return [path](const Params&) { return std::make_unique<PathSearch>(path); };
}

struct Registrations {
  Registrations() {
    auto& r = Stage1Registry::instance();
    r.add("automatic",
          "the fastest exact choice (the default): `distinct` when there are 128 queries or "
          "more and the database's codes repeat enough to pay back collecting them (learned "
          "codes), else `scan`, as bench_hamming measured",
          {}, path_factory(KnnPath::automatic));
    r.add("scan", "every query against every database code (blocked SIMD scan)", {},
          path_factory(KnnPath::scan));
    r.add("distinct",
          "the database's distinct codes collected first, each compared once, their posting "
          "lists expanded",
          {}, path_factory(KnnPath::distinct));
    r.add("mih",
          "multi-index hashing (Norouzi et al., CVPR 2012) over the distinct codes, "
          "bits / log2(distinct codes) substring tables as in the paper",
          {}, [](const Params&) { return std::make_unique<MihSearch>(); });
  }
};
const Registrations registrations;

}  // namespace

std::vector<std::string> stage1_names() { return Stage1Registry::instance().names(); }

Stage1Run run_stage1(const std::string& name, const BinaryCodes& queries, const BinaryCodes& db,
                     int64_t shortlist) {
  auto search = Stage1Registry::instance().create(name, {});
  Stage1Run out;
  const auto t0 = std::chrono::steady_clock::now();
  out.lists = search->search(queries, db, shortlist);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.us_per_query = seconds * 1e6 / std::max<int64_t>(1, queries.size());
  out.ran = search->ran();
  return out;
}

}  // namespace hamster
