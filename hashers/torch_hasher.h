#pragma once
// DeepHasher: the training and encoding machinery shared by the deep hashers. A method
// (DSH, DPSH, ...) supplies only its loss and its output activation.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "framework/hasher.h"
#include "framework/params.h"
#include "hashers/backbone.h"

namespace hamster {

// Parameters every deep hasher takes (a method appends its own).
std::vector<ParamSpec> deep_hasher_params();

class DeepHasher : public Hasher {
 public:
  DeepHasher(const Params& params, int bits);

  void fit(const Dataset& data, const std::vector<int64_t>& ids, const FitContext& ctx) override;
  Encoded encode(const Dataset& data, const std::vector<int64_t>& ids, int threads) const override;
  void save(const std::filesystem::path& dir) const override;
  void load(const std::filesystem::path& dir) override;
  int bits() const override { return bits_; }
  double train_images_per_second() const override { return train_images_per_second_; }

 protected:
  // Called once before training with the training set's labels (one mask per item).
  virtual void begin_fit(const torch::Tensor& labels, const torch::Device& device) {
    (void)labels, (void)device;
  }
  // Loss of one mini-batch: u = activated outputs (B x bits), index = positions of the
  // batch items within the training set, labels = their label masks (int64).
  virtual torch::Tensor loss(const torch::Tensor& u, const torch::Tensor& index,
                             const torch::Tensor& labels) = 0;
  // Output activation of the method, applied to the batch-normalised hash layer.
  virtual torch::Tensor activate(const torch::Tensor& h) const { return h; }
  virtual std::string method() const = 0;

  const int bits_;

 private:
  void build(const Dataset& data);

  std::string backbone_name_;
  std::string device_name_;
  int epochs_, batch_size_;
  double lr_, weight_decay_;
  // mutable: torch modules have no const forward(); encode() does not change the weights.
  mutable SmallCnn net_{nullptr};
  int64_t channels_ = 0, height_ = 0, width_ = 0;
  double train_images_per_second_ = 0;
};

}  // namespace hamster
