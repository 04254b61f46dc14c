#include "framework/data/split.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "framework/error.h"
#include "framework/temp_path.h"

namespace hamster {

namespace fs = std::filesystem;

double Rng::normal() {
  // Box-Muller. 1 - uniform() lies in (0, 1], so the logarithm is finite. The second
  // variate of the pair is dropped: the generator's state is a single counter, which keeps
  // every draw reproducible from the seed alone.
  constexpr double kTwoPi = 6.283185307179586;
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

namespace {

// How each protocol of docs/protocol.md draws its split.
enum class Draw {
  kOfficial,    // query = official test items, train = database = official training items
  kStratified,  // single-label, per class (make_stratified_split)
  kPerConcept,  // multi-label, per concept, an item drawn once (make_concept_split)
};

struct ProtocolSpec {
  const char* name;
  Draw draw;
  int query_per_class, train_per_class;  // stratified and per-concept protocols
  bool database_includes_train;          // stratified protocols (per-concept: always)
  int classes;                           // the class count the protocol is defined for; 0: any
};

constexpr ProtocolSpec kProtocols[] = {
    {"fmnist-1", Draw::kStratified, 100, 500, true, 0},
    {"fmnist-2", Draw::kOfficial, 0, 0, false, 0},
    {"cifar10", Draw::kStratified, 100, 500, false, 0},
    {"cifar10-1", Draw::kStratified, 100, 500, true, 0},
    {"cifar10-2", Draw::kOfficial, 0, 0, false, 0},
    {"nuswide-21", Draw::kPerConcept, 100, 500, true, 21},
    {"fmnist-mosaic", Draw::kPerConcept, 100, 500, true, 0},
};

std::string known_protocols() {
  std::string list;
  for (const ProtocolSpec& p : kProtocols) list += (list.empty() ? "" : ", ") + std::string(p.name);
  return list;
}

// Item indices of each class, in index order. Classes run over class_names and any
// higher class a label uses, so a class with no items at all is still seen (and reported).
std::vector<std::vector<int64_t>> items_by_class(const Dataset& data) {
  std::vector<std::vector<int64_t>> by_class(data.class_names.size());
  for (int64_t i = 0; i < data.size(); ++i) {
    const size_t c = static_cast<size_t>(data.single_label(i));
    if (c >= by_class.size()) by_class.resize(c + 1);
    by_class[c].push_back(i);
  }
  return by_class;
}

// For each class, the items of `items` (in their order) that carry it. Classes run over
// class_names and any higher class a label uses, so a class with no items is still seen.
std::vector<std::vector<int64_t>> items_by_concept(const Dataset& data,
                                                   const std::vector<int64_t>& items) {
  std::vector<std::vector<int64_t>> by_concept(kMaxClasses);
  size_t classes = data.class_names.size();
  for (int64_t i : items)
    for (int c = 0; c < kMaxClasses; ++c)
      if (data.labels[i].test(c)) {
        by_concept[c].push_back(i);
        classes = std::max(classes, static_cast<size_t>(c) + 1);
      }
  by_concept.resize(classes);
  return by_concept;
}

// For each concept in order: shuffles its items that are still `free` and marks the first
// `per_concept` of them `role`. The candidates are listed before the shuffle in a fixed
// order, so the draw follows from the generator alone. Throws naming the concept when
// fewer than needed are free.
void draw_per_concept(const std::vector<std::vector<int64_t>>& by_concept, int per_concept,
                      uint8_t free, uint8_t role, std::vector<uint8_t>& roles, Rng& rng,
                      const std::string& what) {
  for (size_t c = 0; c < by_concept.size(); ++c) {
    std::vector<int64_t> candidates;
    for (int64_t i : by_concept[c])
      if (roles[i] == free) candidates.push_back(i);
    if (candidates.size() < static_cast<size_t>(per_concept))
      throw Error(what + ": concept " + std::to_string(c) + " has " +
                  std::to_string(candidates.size()) + " items left (of " +
                  std::to_string(by_concept[c].size()) + " carrying it), needs " +
                  std::to_string(per_concept));
    shuffle(candidates, rng);
    for (int k = 0; k < per_concept; ++k) roles[candidates[k]] = role;
  }
}

std::vector<int64_t> index_range(int64_t begin, int64_t end) {
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(end - begin));
  for (int64_t i = begin; i < end; ++i) ids.push_back(i);
  return ids;
}

namespace {

// The query and training items a stratified or per-concept protocol draws per class: at
// least one query, no negative count.
void check_counts_per_class(const std::string& protocol, int query, int train) {
  if (query < 1 || train < 0)
    throw Error("protocol " + protocol +
                ": needs query_per_class >= 1 and train_per_class >= 0, got " +
                std::to_string(query) + " and " + std::to_string(train));
}

}  // namespace

Split stratified_split(const std::string& protocol, const Dataset& data, int query_per_class,
                       int train_per_class, bool database_includes_train, uint64_t seed) {
  check_counts_per_class(protocol, query_per_class, train_per_class);
  enum Role : uint8_t { kRest, kQuery, kTrain };
  std::vector<uint8_t> role(static_cast<size_t>(data.size()), kRest);
  const size_t needed = static_cast<size_t>(query_per_class) + static_cast<size_t>(train_per_class);

  // One generator across the classes in class order: the whole split follows from the seed.
  Rng rng(seed);
  std::vector<std::vector<int64_t>> by_class = items_by_class(data);
  for (size_t c = 0; c < by_class.size(); ++c) {
    std::vector<int64_t>& items = by_class[c];
    if (items.size() < needed)
      throw Error("dataset '" + data.name + "': class " + std::to_string(c) + " has " +
                  std::to_string(items.size()) + " items, protocol " + protocol + " needs " +
                  std::to_string(needed) + " (" + std::to_string(query_per_class) + " query + " +
                  std::to_string(train_per_class) + " train per class)");
    shuffle(items, rng);
    for (size_t k = 0; k < needed; ++k)
      role[items[k]] = k < size_t(query_per_class) ? kQuery : kTrain;
  }

  Split s;
  s.protocol = protocol;
  s.seed = seed;
  // Walking the items in index order leaves every list ascending.
  for (int64_t i = 0; i < data.size(); ++i) {
    if (role[i] == kQuery) s.query.push_back(i);
    if (role[i] == kTrain) s.train.push_back(i);
    if (role[i] == kRest || (role[i] == kTrain && database_includes_train)) s.database.push_back(i);
  }
  return s;
}

Split concept_split(const std::string& protocol, const Dataset& data, int query_per_concept,
                    int train_per_concept, uint64_t seed) {
  check_counts_per_class(protocol, query_per_concept, train_per_concept);
  enum Role : uint8_t { kRest, kQuery, kTrain };
  std::vector<uint8_t> role(static_cast<size_t>(data.size()), kRest);
  const auto by_concept = items_by_concept(data, index_range(0, data.size()));
  const std::string what = "dataset '" + data.name + "', protocol " + protocol;
  // One generator, queries for every concept first: the query set does not depend on
  // train_per_concept.
  Rng rng(seed);
  draw_per_concept(by_concept, query_per_concept, kRest, kQuery, role, rng, what + " (query)");
  draw_per_concept(by_concept, train_per_concept, kRest, kTrain, role, rng, what + " (train)");

  Split s;
  s.protocol = protocol;
  s.seed = seed;
  for (int64_t i = 0; i < data.size(); ++i) {
    if (role[i] == kQuery) {
      s.query.push_back(i);
      continue;
    }
    if (role[i] == kTrain) s.train.push_back(i);
    s.database.push_back(i);
  }
  return s;
}

Split official_split(const std::string& protocol, const Dataset& data, uint64_t seed) {
  const int64_t n_train = data.official_train_size;
  if (n_train <= 0 || n_train >= data.size())
    throw Error("protocol " + protocol + " needs the official train/test division, but dataset '" +
                data.name + "' has official_train_size " + std::to_string(n_train) + " of " +
                std::to_string(data.size()) + " items");
  Split s;
  s.protocol = protocol;
  s.seed = seed;  // unused by the draw, kept so every split records what it was asked for
  s.query = index_range(n_train, data.size());
  s.train = index_range(0, n_train);
  s.database = s.train;
  return s;
}

void write_role(std::ostream& out, const char* role, const std::vector<int64_t>& ids) {
  out << role;
  for (int64_t i : ids) out << ' ' << i;
  out << '\n';
}

}  // namespace

std::vector<std::string> split_protocols() {
  std::vector<std::string> names;
  for (const ProtocolSpec& p : kProtocols) names.push_back(p.name);
  return names;
}

Split make_stratified_split(const Dataset& data, int query_per_class, int train_per_class,
                            bool database_includes_train, uint64_t seed) {
  return stratified_split("stratified", data, query_per_class, train_per_class,
                          database_includes_train, seed);
}

Split make_concept_split(const Dataset& data, int query_per_concept, int train_per_concept,
                         uint64_t seed) {
  return concept_split("per-concept", data, query_per_concept, train_per_concept, seed);
}

SplitSizes protocol_sizes(const std::string& protocol, int64_t items, int classes,
                          int64_t official_test, int validation_per_class) {
  const int64_t validation = static_cast<int64_t>(validation_per_class) * classes;
  for (const ProtocolSpec& p : kProtocols) {
    if (protocol != p.name) continue;
    switch (p.draw) {
      case Draw::kOfficial:  // the database is the training set, validation carved from it
        return {official_test, items - official_test - validation};
      case Draw::kStratified: {
        const int64_t queries = static_cast<int64_t>(p.query_per_class) * classes;
        const int64_t train = static_cast<int64_t>(p.train_per_class) * classes;
        return {queries,
                p.database_includes_train ? items - queries - validation : items - queries - train};
      }
      case Draw::kPerConcept:
        return {};
    }
  }
  return {};
}

Split make_split(const std::string& protocol, const Dataset& data, uint64_t seed) {
  for (const ProtocolSpec& p : kProtocols) {
    if (protocol != p.name) continue;
    if (p.classes > 0 && data.num_classes() != p.classes)
      throw Error("protocol " + protocol + " is defined on " + std::to_string(p.classes) +
                  " concepts, dataset '" + data.name + "' has " +
                  std::to_string(data.num_classes()));
    switch (p.draw) {
      case Draw::kOfficial:
        return official_split(protocol, data, seed);
      case Draw::kStratified:
        return stratified_split(protocol, data, p.query_per_class, p.train_per_class,
                                p.database_includes_train, seed);
      case Draw::kPerConcept:
        return concept_split(protocol, data, p.query_per_class, p.train_per_class, seed);
    }
  }
  throw Error("unknown split protocol '" + protocol + "' (known: " + known_protocols() + ")");
}

void carve_validation(Split& split, const Dataset& data, int per_class, uint64_t seed) {
  if (per_class < 0)
    throw Error("validation: per_class must be >= 0, got " + std::to_string(per_class));
  if (per_class == 0) return;
  const auto train_by_class = items_by_concept(data, split.train);
  // A generator of its own, offset from the split's, so adding a validation split leaves
  // the query and database draw untouched.
  Rng rng(seed ^ 0x76616c6964ull);
  std::vector<uint8_t> taken(static_cast<size_t>(data.size()), 0);
  std::vector<int64_t> chosen;
  for (size_t c = 0; c < train_by_class.size(); ++c) {
    if (train_by_class[c].empty()) continue;  // a class nobody trains on has nothing to hold out
    std::vector<int64_t> items;
    for (int64_t i : train_by_class[c])
      if (!taken[i]) items.push_back(i);
    if (static_cast<int>(items.size()) <= per_class)
      throw Error("validation: class " + std::to_string(c) + " has " +
                  std::to_string(items.size()) + " training items; cannot set " +
                  std::to_string(per_class) + " aside and still train on it");
    shuffle(items, rng);
    for (int k = 0; k < per_class; ++k) {
      taken[items[k]] = 1;
      chosen.push_back(items[k]);
    }
  }
  std::sort(chosen.begin(), chosen.end());
  std::vector<int64_t> rest;
  std::set_difference(split.train.begin(), split.train.end(), chosen.begin(), chosen.end(),
                      std::back_inserter(rest));
  split.train = std::move(rest);
  split.validation = std::move(chosen);
}

void save_split(const Split& split, const fs::path& file) {
  // Written beside the target and renamed over it, so a reader never sees half a file.
  const fs::path tmp = temp_path_beside(file);
  {
    std::ofstream out(tmp);
    if (!out) throw Error("'" + tmp.string() + "': cannot open for writing");
    out << "protocol " << split.protocol << '\n' << "seed " << split.seed << '\n';
    write_role(out, "query", split.query);
    write_role(out, "train", split.train);
    write_role(out, "database", split.database);
    if (!split.validation.empty()) write_role(out, "validation", split.validation);
    out.close();
    if (!out) {
      fs::remove(tmp);
      throw Error("'" + tmp.string() + "': write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error("'" + file.string() + "': cannot move the split file into place: " + ec.message());
  }
}

Split load_split(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw Error("'" + file.string() + "': cannot open the split file");
  Split split;
  bool has_query = false, has_database = false;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream words(line);
    std::string role;
    if (!(words >> role)) continue;
    const std::string where = "'" + file.string() + "':" + std::to_string(number) + ": ";
    if (role == "protocol") {
      words >> split.protocol;
      continue;
    }
    if (role == "seed") {
      if (!(words >> split.seed)) throw Error(where + "expected 'seed N'");
      continue;
    }
    std::vector<int64_t>* ids = role == "query"        ? &split.query
                                : role == "train"      ? &split.train
                                : role == "database"   ? &split.database
                                : role == "validation" ? &split.validation
                                                       : nullptr;
    if (!ids)
      throw Error(where + "unknown line '" + role +
                  "' (expected protocol, seed, query, train, database or validation)");
    has_query = has_query || role == "query";
    has_database = has_database || role == "database";
    std::string word;
    while (words >> word) {
      size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(word, &used);
      } catch (const std::exception&) {
      }
      if (used != word.size() || v < 0)
        throw Error(where + role + ": '" + word + "' is not an item index");
      ids->push_back(v);
    }
  }
  if (!has_query || !has_database)
    throw Error("'" + file.string() + "': no " + (has_query ? "database" : "query") +
                " line (not a split file?)");
  return split;
}

}  // namespace hamster
