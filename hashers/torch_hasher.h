#pragma once
// DeepHasher: the training and encoding machinery shared by the deep hashers. A method
// (DSH, DPSH, DSDH, ...) supplies its loss and, where it needs them, its output activation,
// epoch hooks, extra trainable parameters and state saved with the model. Everything else
// (backbone, optimiser, batching, the output bank, model selection on the validation split,
// saving and loading) is here, so every method trains under the same budget and rules.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/hasher.h"
#include "framework/params.h"
#include "hashers/augment.h"
#include "hashers/backbone.h"
#include "hashers/weight_average.h"

namespace hamster {

// Parameters every deep hasher takes (a method appends its own): framework/hasher.h's
// training_params(), with the backbones of this build named in the help.
std::vector<ParamSpec> deep_hasher_params();

// The first line of a LibTorch error: the rest is a C++ stack trace that names no file.
std::string torch_error_line(const std::exception& e);

// Multi-hot label matrix of data[ids]: N x C floats, 1 where the item has the class.
torch::Tensor label_matrix(const Dataset& data, const std::vector<int64_t>& ids);

// s_ij = 1 when the label sets of row i of a and row j of b intersect (docs/protocol.md's
// relevance), as floats: a is A x C, b is B x C multi-hot.
torch::Tensor label_similarity(const torch::Tensor& a, const torch::Tensor& b);

// The latest output of every training item, updated after each mini-batch: what memory
// bank losses pair against and what epoch hooks see as "the whole training set's outputs".
class OutputBank {
 public:
  void reset(int64_t items, int bits, const torch::Device& device);
  void update(const torch::Tensor& index, const torch::Tensor& u);  // stores u detached
  const torch::Tensor& outputs() const { return outputs_; }         // N x bits
  // Positions of the items written at least once this fit, ascending.
  torch::Tensor seen() const { return seen_.nonzero().squeeze(1); }
  bool all_seen() const { return seen_.all().item<bool>(); }
  // For a fit's checkpoint: the written-once mask, and both put back.
  const torch::Tensor& seen_mask() const { return seen_; }
  void restore(const torch::Tensor& outputs, const torch::Tensor& seen);

 private:
  torch::Tensor outputs_, seen_;
};

// What begin_fit() is given.
struct TrainingSet {
  torch::Tensor labels;  // N x C multi-hot floats, on the training device
  torch::Device device = torch::kCPU;
  uint64_t seed = 0;  // for anything the method draws (hash centres, codebooks)
  int64_t size() const { return labels.size(0); }
};

// One mini-batch as the loss sees it.
struct Batch {
  torch::Tensor u;        // B x bits: the method's activated outputs
  torch::Tensor feature;  // B x feature_width: the backbone's deep feature
  torch::Tensor index;    // B: positions of the items within the training set
  torch::Tensor labels;   // B x C multi-hot floats
};

// The learning rate of epoch `epoch` (1-based) of `epochs` under `schedule`: "constant"
// (always lr) or "cosine" (lr (1 + cos(pi (epoch - 1) / epochs)) / 2: lr at the first
// epoch, lr / 2 halfway, near 0 at the last). Throws on another schedule.
double scheduled_lr(const std::string& schedule, double lr, int epoch, int epochs);

class DeepHasher : public Hasher {
 public:
  DeepHasher(const Params& params, int bits);

  void fit(const Dataset& data, const std::vector<int64_t>& ids, const FitContext& ctx) override;
  Encoded encode(const Dataset& data, const std::vector<int64_t>& ids, int threads) const override;
  void save(const std::filesystem::path& dir) const override;
  void load(const std::filesystem::path& dir) override;
  int bits() const override { return bits_; }
  double train_images_per_second() const override { return train_images_per_second_; }
  std::map<std::string, double> fit_summary() const override { return summary_; }
  std::string checkpoint_progress(const std::filesystem::path& checkpoint) const override;

 protected:
  // Called once before training; labels and device are where the batches live.
  virtual void begin_fit(const TrainingSet& set) { (void)set; }
  // Trainable tensors beside the network (e.g. a classifier on the codes), created in
  // begin_fit; the optimiser updates them with the network.
  virtual std::vector<torch::Tensor> extra_parameters() { return {}; }
  // Epoch hooks, epochs counted from 1. At end_epoch, bank() holds every training item's
  // output from this epoch.
  virtual void begin_epoch(int epoch, int epochs) { (void)epoch, (void)epochs; }
  virtual void end_epoch(int epoch, int epochs) { (void)epoch, (void)epochs; }
  virtual torch::Tensor loss(const Batch& batch) = 0;
  // Output activation of the method, applied to the batch-normalised hash layer; codes
  // are its signs.
  virtual torch::Tensor activate(const torch::Tensor& h) const { return h; }
  // Method state kept with the model (e.g. DSDH's W and B, CSQ's centres), under keys of
  // the method's choosing.
  virtual void save_state(torch::serialize::OutputArchive& archive) const { (void)archive; }
  virtual void load_state(torch::serialize::InputArchive& archive) { (void)archive; }
  virtual std::string method() const = 0;

  const OutputBank& bank() const { return bank_; }

  // Whom a pairwise loss pairs a batch with: the batch itself, or (from_bank) every
  // training item that has an output in the bank this fit, the batch's own included.
  struct Partners {
    torch::Tensor u;       // M x bits (the bank's are detached)
    torch::Tensor labels;  // M x C
    torch::Tensor index;   // M: positions within the training set
  };
  Partners partners(const Batch& batch, bool from_bank) const;

  const int bits_;

 private:
  void build(int64_t channels, int64_t height, int64_t width);
  // Mean average precision (mAP@all, Hamming ranking) of the validation items against the
  // training items, with the network in evaluation mode.
  double validation_map(const Dataset& data, const std::vector<int64_t>& train,
                        const std::vector<int64_t>& validation, int threads) const;
  // The network and the method state, in memory (model selection's best epoch).
  std::string snapshot() const;
  void restore(const std::string& bytes);
  void write_archive(torch::serialize::OutputArchive& archive) const;
  void read_archive(torch::serialize::InputArchive& archive);

  // Where a fit stands at the end of an epoch, beside the weights, the optimiser, the
  // weight average and the output bank: what a stopped fit needs to go on exactly.
  struct FitProgress {
    int epoch = 0;  // epochs finished
    double best_map = -1;
    int best_epoch = 0;
    std::string best_state;  // snapshot() of the best epoch so far
    double seconds = 0, selection_seconds = 0;
    uint64_t order_rng = 0, augment_rng = 0;  // Rng::state()
    std::vector<int64_t> order;               // the training order, shuffled every epoch
  };
  // Written to a temporary file renamed over `file`, so a checkpoint is whole or absent.
  void write_checkpoint(const std::filesystem::path& file, const FitProgress& progress,
                        const torch::optim::Optimizer& optimiser,
                        const WeightAverage* average) const;
  // Restores what write_checkpoint() wrote into this fit (same data, parameters and
  // seed: the runner keys the file like the model). Throws Error naming the file when it
  // is unreadable or belongs to another fit.
  FitProgress read_checkpoint(const std::filesystem::path& file, torch::optim::Optimizer& optimiser,
                              WeightAverage* average);

  std::string backbone_name_, device_name_, optimiser_name_, lr_schedule_;
  int epochs_, batch_size_, select_every_;
  double lr_, weight_decay_, dropout_, weight_average_;
  Augmentation augmentation_;
  // mutable: torch modules have no const forward(); encode() does not change the weights.
  mutable Backbone net_;
  int64_t channels_ = 0, height_ = 0, width_ = 0;
  OutputBank bank_;
  torch::Tensor train_labels_;  // N x C, of the fit in progress
  double train_images_per_second_ = 0;
  std::map<std::string, double> summary_;
};

}  // namespace hamster
