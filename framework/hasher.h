#pragma once
// The Hasher interface. Deep hashers live in hashers/ and use LibTorch behind this line;
// nothing here (or anywhere in framework/) includes torch.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/registry.h"
#include "framework/types.h"

namespace hamster {

struct FitContext {
  uint64_t seed = 0;
  int threads = 1;             // intra-op threads this fit may use
  std::string device = "cpu";  // "cpu" or "cuda"
  // Held-out training items (never queries) for model selection; empty: none. A deep
  // hasher evaluates them against the training items every few epochs and keeps the best.
  std::vector<int64_t> validation;
  // Where a deep hasher keeps its progress at the end of every epoch (a file), so that a fit
  // stopped part way (killed, crashed, out of time) goes on from there when run again, to
  // the same weights it would have reached. Empty: none. Whoever sets it removes the file
  // once the model is stored.
  std::filesystem::path checkpoint;
  // Progress lines (epoch, loss, seconds, ETA) go here; defaults to stderr.
  std::function<void(const std::string&)> log;
  void print(const std::string& line) const;
};

class Hasher {
 public:
  virtual ~Hasher() = default;
  // Learns from data[ids] (images and labels).
  virtual void fit(const Dataset& data, const std::vector<int64_t>& ids, const FitContext& ctx) = 0;
  // Codes, real-valued hash outputs and deep features of data[ids], in ids order,
  // using up to `threads` threads.
  virtual Encoded encode(const Dataset& data, const std::vector<int64_t>& ids,
                         int threads) const = 0;
  virtual void save(const std::filesystem::path& dir) const = 0;
  virtual void load(const std::filesystem::path& dir) = 0;
  virtual int bits() const = 0;
  // Images per second of the last fit (0 for hashers that do not train).
  virtual double train_images_per_second() const { return 0; }
  // What the last fit decided, for the record: e.g. "chosen_epoch", "validation_map",
  // "epochs". Empty for hashers with nothing to say.
  virtual std::map<std::string, double> fit_summary() const { return {}; }
  // How far the fit that wrote `checkpoint` (FitContext::checkpoint) had got, in words
  // ("after epoch 7/120, ..."), for `hamster run --dry-run`. Empty for hashers that keep
  // no checkpoint; an error naming the file when it cannot be read.
  virtual std::string checkpoint_progress(const std::filesystem::path& checkpoint) const {
    (void)checkpoint;
    return {};
  }
};

// Factory arguments after Params: the code length.
using HasherRegistry = Registry<Hasher, int>;

// The training budget every deep hasher takes (each appends its own parameters): the keys a
// config's `training:` block sets for all of them at once, unless a hasher's own params set
// them. Declared here, outside LibTorch, so that a config is read the same way in every
// build; hashers/torch_hasher.cpp takes them as they are.
std::vector<ParamSpec> training_params();

// Registers a hasher at static-initialisation time (from its own .cpp).
struct RegisterHasher {
  RegisterHasher(const std::string& name, std::string help, std::vector<ParamSpec> params,
                 HasherRegistry::Factory factory) {
    HasherRegistry::instance().add(name, std::move(help), std::move(params), std::move(factory));
  }
};

}  // namespace hamster
