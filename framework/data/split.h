#pragma once
// The splits of docs/protocol.md: class-stratified, drawn with a seeded generator.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/dataset.h"

namespace hamster {

struct Split {
  std::string protocol;
  uint64_t seed = 0;
  std::vector<int64_t> query, train, database;  // item indices into the Dataset, ascending
  // Carved from the training images (carve_validation); empty unless asked for. Hashers
  // never train on them; model selection and re-ranker tuning use them as queries, so the
  // real queries are never looked at while choosing.
  std::vector<int64_t> validation;
};

// protocol: fmnist-1, fmnist-2, cifar10, cifar10-1, cifar10-2, nuswide-21, fmnist-mosaic
// (see docs/protocol.md). Throws Error naming the protocol if it is unknown or the dataset is
// too small for it (or, for nuswide-21, does not have 21 concepts).
Split make_split(const std::string& protocol, const Dataset& data, uint64_t seed);

// The query and database sizes `protocol` gives a dataset of `items` items in `classes`
// classes, `official_test` of them its official test set, with `validation_per_class`
// training items per class set aside: what a dry run checks a config against without
// loading the data. Empty (queries = database = 0) where they depend on the data itself
// (the per-concept draws) or the protocol is not one make_split knows.
struct SplitSizes {
  int64_t queries = 0, database = 0;
};
SplitSizes protocol_sizes(const std::string& protocol, int64_t items, int classes,
                          int64_t official_test, int validation_per_class);

// The protocols make_split knows.
std::vector<std::string> split_protocols();

// The class-stratified draw behind fmnist-1, cifar10 and cifar10-1, with the counts as
// parameters (protocol "stratified"): per class, query_per_class query items and then
// train_per_class training items, disjoint. The database is every non-query item when
// database_includes_train, else the items in neither query nor train. Single-label data
// only; throws Error if a class has fewer than query_per_class + train_per_class items.
Split make_stratified_split(const Dataset& data, int query_per_class, int train_per_class,
                            bool database_includes_train, uint64_t seed);

// The multi-label draw behind nuswide-21 and fmnist-mosaic (protocol "per-concept"): for
// each concept in class order, query_per_concept items carrying it that are not drawn yet
// become queries; then, the same way, train_per_concept non-query items per concept become
// training items. An item is drawn at most once, so there are exactly classes x
// query_per_concept queries and classes x train_per_concept training items. The database
// is every non-query item (training items included). Throws Error naming the concept when
// too few undrawn items carry it.
Split make_concept_split(const Dataset& data, int query_per_concept, int train_per_concept,
                         uint64_t seed);

// Moves `per_class` items of each class from split.train to split.validation, drawn with
// `seed` (a generator of its own, so the query/train/database draw is unchanged). Classes
// are visited in order and an item is drawn at most once, so on multi-label data an item
// counts for the first of its classes that draws it. Throws Error naming the class when a
// class with training items has no more than per_class of them left, or if per_class < 0.
// per_class = 0 does nothing.
void carve_validation(Split& split, const Dataset& data, int per_class, uint64_t seed);

// Writes the protocol, the seed and the chosen indices atomically, one line each:
// "protocol fmnist-1", "seed 0", then one line per role ("query 3 17 ...", "train ...",
// "database ...", and "validation ..." when there is one).
void save_split(const Split& split, const std::filesystem::path& file);
// Reads what save_split wrote. Throws Error naming the file and line for an unknown line,
// an index that is not a whole number >= 0, or a missing query or database line.
Split load_split(const std::filesystem::path& file);

// Deterministic generator shared by everything seeded in the framework (splits, LSH,
// tie-breaking in tests): SplitMix64, simple and the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  // Rng(r.state()) draws what r would draw next (a stopped fit's checkpoint keeps it).
  uint64_t state() const { return state_; }
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }  // bias < 2^-40 for our sizes
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal();  // Box-Muller

 private:
  uint64_t state_;
};

// In-place Fisher-Yates shuffle driven by Rng.
template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace hamster
