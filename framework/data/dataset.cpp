#include "framework/data/dataset.h"

#include <string>

#include "framework/error.h"

namespace hamster {

namespace {

// "'name' (1x28x28, 10 classes)": enough to see at a glance why two datasets differ.
std::string describe(const Dataset& d) {
  return "'" + d.name + "' (" + std::to_string(d.channels) + "x" + std::to_string(d.height) + "x" +
         std::to_string(d.width) + ", " + std::to_string(d.class_names.size()) + " classes)";
}

}  // namespace

int Dataset::single_label(int64_t i) const {
  const LabelSet& set = labels.at(static_cast<size_t>(i));
  const int count = set.count();
  if (count != 1)
    throw Error("dataset '" + name + "': item " + std::to_string(i) + " has " +
                std::to_string(count) + " labels, expected exactly one (single-label protocol)");
  return set.lowest();
}

Dataset concatenate(Dataset a, const Dataset& b) {
  if (a.channels != b.channels || a.height != b.height || a.width != b.width ||
      a.class_names.size() != b.class_names.size())
    throw Error("cannot concatenate datasets " + describe(a) + " and " + describe(b) +
                ": image shape and class count must match");
  a.pixels.insert(a.pixels.end(), b.pixels.begin(), b.pixels.end());
  a.labels.insert(a.labels.end(), b.labels.begin(), b.labels.end());
  // official_train_size stays a's: the appended items come after the official training
  // items, which is how the loaders put a test set behind its training set.
  return a;
}

}  // namespace hamster
