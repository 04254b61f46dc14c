#include "framework/data/split.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "framework/error.h"

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

// How each protocol of PROTOCOL.md draws its split.
struct ProtocolSpec {
  const char* name;
  bool official;  // query = official test items, train = database = official training items
  int query_per_class, train_per_class;  // stratified protocols only
  bool database_includes_train;          // stratified protocols only
};

constexpr ProtocolSpec kProtocols[] = {
    {"fmnist-1", false, 100, 500, true}, {"fmnist-2", true, 0, 0, false},
    {"cifar10", false, 100, 500, false}, {"cifar10-1", false, 100, 500, true},
    {"cifar10-2", true, 0, 0, false},
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

std::vector<int64_t> index_range(int64_t begin, int64_t end) {
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(end - begin));
  for (int64_t i = begin; i < end; ++i) ids.push_back(i);
  return ids;
}

Split stratified_split(const std::string& protocol, const Dataset& data, int query_per_class,
                       int train_per_class, bool database_includes_train, uint64_t seed) {
  if (query_per_class < 1 || train_per_class < 0)
    throw Error("protocol " + protocol +
                ": needs query_per_class >= 1 and train_per_class >= 0, got " +
                std::to_string(query_per_class) + " and " + std::to_string(train_per_class));
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

Split make_split(const std::string& protocol, const Dataset& data, uint64_t seed) {
  for (const ProtocolSpec& p : kProtocols) {
    if (protocol != p.name) continue;
    if (p.official) return official_split(protocol, data, seed);
    return stratified_split(protocol, data, p.query_per_class, p.train_per_class,
                            p.database_includes_train, seed);
  }
  throw Error("unknown split protocol '" + protocol + "' (known: " + known_protocols() + ")");
}

void carve_validation(Split& split, const Dataset& data, int per_class, uint64_t seed) {
  if (per_class < 0)
    throw Error("validation: per_class must be >= 0, got " + std::to_string(per_class));
  if (per_class == 0) return;
  std::map<size_t, std::vector<int64_t>> train_by_class;
  for (int64_t i : split.train)
    train_by_class[static_cast<size_t>(data.single_label(i))].push_back(i);
  // A generator of its own, offset from the split's, so adding a validation split leaves
  // the query and database draw untouched.
  Rng rng(seed ^ 0x76616c6964ull);
  std::vector<int64_t> chosen;
  for (auto& [label, items] : train_by_class) {
    if (static_cast<int>(items.size()) <= per_class)
      throw Error("validation: class " + std::to_string(label) + " has " +
                  std::to_string(items.size()) + " training items; cannot set " +
                  std::to_string(per_class) + " aside and still train on it");
    shuffle(items, rng);
    chosen.insert(chosen.end(), items.begin(), items.begin() + per_class);
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
  // The pid keeps concurrent runs (shards) from writing into each other's temp file.
  const fs::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
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

}  // namespace hamster
