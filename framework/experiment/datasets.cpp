#include "framework/experiment/datasets.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <type_traits>

#include "framework/data/image_list.h"
#include "framework/data/loaders.h"
#include "framework/data/mosaic.h"
#include "framework/data/split.h"
#include "framework/error.h"

namespace hamster {

namespace fs = std::filesystem;

namespace {

fs::path path_or(const ExperimentConfig& c, const fs::path& fallback) {
  return c.dataset_path.empty() ? fallback : fs::path(c.dataset_path);
}

fs::path required_path(const ExperimentConfig& c) {
  if (c.dataset_path.empty()) throw Error("dataset " + c.dataset + " needs dataset.path");
  return c.dataset_path;
}

Dataset load_fashion_mnist_config(const ExperimentConfig& c) {
  return load_fashion_mnist(path_or(c, kFashionMnistDir));
}

Dataset load_cifar10_config(const ExperimentConfig& c) { return load_cifar10(required_path(c)); }

Dataset load_nuswide_config(const ExperimentConfig& c) {
  return load_nuswide(required_path(c), ImageListOptions{c.image_root, c.image_size});
}

Dataset load_fmnist_mosaic_config(const ExperimentConfig& c) {
  return load_fmnist_mosaic(path_or(c, kFashionMnistDir), c.mosaics, c.mosaic_seed);
}

std::string option_value(const ExperimentConfig& c, const std::string& key) {
  if (key == "image_root") return c.image_root;
  if (key == "image_size") return std::to_string(c.image_size);
  if (key == "mosaics") return std::to_string(c.mosaics);
  if (key == "mosaic_seed") return std::to_string(c.mosaic_seed);
  throw Error("dataset option '" + key + "' has no value in the config");
}

}  // namespace

const std::vector<DatasetSpec>& dataset_specs() {
  static const std::vector<DatasetSpec> specs = {
      {"fashion-mnist",
       {"fmnist-1", "fmnist-2"},
       {},
       std::string("IDX files; default path ") + kFashionMnistDir,
       load_fashion_mnist_config,
       70000,
       10,
       10000},
      {"cifar10",
       {"cifar10", "cifar10-1", "cifar10-2"},
       {},
       "binary version; dataset.path = folder of data_batch_*.bin",
       load_cifar10_config},
      {"nuswide",
       {"nuswide-21"},
       {"image_root", "image_size"},
       "image lists; dataset.path = folder of list.txt (or database.txt + test.txt)",
       load_nuswide_config},
      {"fmnist-mosaic",
       {"fmnist-mosaic"},
       {"mosaics", "mosaic_seed"},
       "2x2 mosaics of Fashion-MNIST images, labels = union; default path " +
           std::string(kFashionMnistDir),
       load_fmnist_mosaic_config},
  };
  return specs;
}

int64_t expected_database_size(const ExperimentConfig& c) {
  const DatasetSpec& spec = dataset_spec(c.dataset);
  if (spec.items == 0 || !c.dataset_path.empty()) return 0;  // files of another size
  return protocol_sizes(c.protocol, spec.items, spec.classes, spec.official_test,
                        c.validation_per_class)
      .database;
}

const DatasetSpec& dataset_spec(const std::string& name) {
  std::string known;
  for (const DatasetSpec& s : dataset_specs()) {
    if (s.name == name) return s;
    known += (known.empty() ? "" : ", ") + s.name;
  }
  throw Error("unknown dataset '" + name + "' (known: " + known + ")");
}

const DatasetSpec* dataset_defining(const std::string& protocol) {
  for (const DatasetSpec& s : dataset_specs())
    for (const std::string& p : s.protocols)
      if (p == protocol) return &s;
  return nullptr;
}

std::string dataset_options_key(const ExperimentConfig& c) {
  std::string key;
  for (const std::string& option : dataset_spec(c.dataset).options)
    key += "|" + option + "=" + option_value(c, option);
  return key;
}

std::vector<std::pair<std::string, std::string>> dataset_options(const ExperimentConfig& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& option : dataset_spec(c.dataset).options)
    out.emplace_back(option, option_value(c, option));
  return out;
}

void set_dataset_option(ExperimentConfig& c, const std::string& key, const std::string& value) {
  auto whole = [&](auto& field) {
    size_t used = 0;
    try {
      const long long v = std::stoll(value, &used);
      if (used == value.size() && v >= 0) {
        field = static_cast<std::remove_reference_t<decltype(field)>>(v);
        return;
      }
    } catch (const std::exception&) {
    }
    throw Error("dataset option " + key + ": expected a whole number >= 0, got '" + value + "'");
  };
  if (key == "image_root") {
    c.image_root = value;
  } else if (key == "image_size") {
    whole(c.image_size);
  } else if (key == "mosaics") {
    whole(c.mosaics);
  } else if (key == "mosaic_seed") {
    whole(c.mosaic_seed);
  } else {
    throw Error("unknown dataset option '" + key +
                "' (known: image_root, image_size, mosaics, mosaic_seed)");
  }
}

Dataset load_dataset(const ExperimentConfig& c) { return dataset_spec(c.dataset).load(c); }

Split split_for(const ExperimentConfig& c, const Dataset& data) {
  Split split = c.protocol == "stratified"
                    ? make_stratified_split(data, c.query_per_class, c.train_per_class,
                                            c.database_includes_train, c.split_seed)
                : c.protocol == "per-concept"
                    ? make_concept_split(data, c.query_per_class, c.train_per_class, c.split_seed)
                    : make_split(c.protocol, data, c.split_seed);
  carve_validation(split, data, c.validation_per_class, c.split_seed);
  return split;
}

EvaluationSets evaluation_sets(const ExperimentConfig& c, const Split& split) {
  if (c.queries == "test") return {split.query, split.database};
  EvaluationSets sets{split.validation, {}};
  std::set_difference(split.database.begin(), split.database.end(), split.validation.begin(),
                      split.validation.end(), std::back_inserter(sets.database));
  return sets;
}

}  // namespace hamster
