#pragma once
// The datasets a config can name: how each is loaded, which split protocols are defined
// on it (the first is its default) and which dataset.* options it takes. Adding a dataset
// is one row in datasets.cpp.
#include <string>
#include <utility>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/data/split.h"
#include "framework/experiment/config.h"

namespace hamster {

struct DatasetSpec {
  std::string name;
  std::vector<std::string> protocols;  // docs/protocol.md names defined on it; first = default
  std::vector<std::string> options;    // dataset.* keys it takes beyond name and path
  std::string help;                    // one line for `hamster datasets`
  Dataset (*load)(const ExperimentConfig&);
  // The size of the files at the default path, where there is one (0: it depends on the
  // files): items, classes and official test items. A dry run checks a config's sizes
  // against them.
  int64_t items = 0;
  int classes = 0;
  int64_t official_test = 0;
};

// The database size the config's split gives, when the dataset is a fixed release read from
// its default place (no dataset.path) and the protocol fixes the counts; 0 otherwise.
int64_t expected_database_size(const ExperimentConfig& config);

const std::vector<DatasetSpec>& dataset_specs();

// Throws Error listing the known datasets when `name` is not one.
const DatasetSpec& dataset_spec(const std::string& name);

// The dataset that defines `protocol`, or nullptr (protocol "stratified", unknown names).
const DatasetSpec* dataset_defining(const std::string& protocol);

// "|key=value" for each dataset.* option the config's dataset takes: part of every cache
// key, so mosaics of another count or images of another size never reuse a model. Empty
// for datasets without options, which keeps their keys as they were.
std::string dataset_options_key(const ExperimentConfig& config);

// The dataset.* options the config's dataset takes, with their values as text (what result
// records keep), and the way back: sets one on a config. set_dataset_option throws Error
// naming the option for an unknown key or a value of the wrong type.
std::vector<std::pair<std::string, std::string>> dataset_options(const ExperimentConfig& config);
void set_dataset_option(ExperimentConfig& config, const std::string& key, const std::string& value);

Dataset load_dataset(const ExperimentConfig& config);
// The config's split, with its validation part carved from the training items.
Split split_for(const ExperimentConfig& config, const Dataset& data);

// Which items a run evaluates: the split's queries against its database, or (queries:
// validation) the validation items against the database without them.
struct EvaluationSets {
  std::vector<int64_t> query, database;
};
EvaluationSets evaluation_sets(const ExperimentConfig& config, const Split& split);

}  // namespace hamster
