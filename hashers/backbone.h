#pragma once
// The backbones the deep hashers share, so comparisons between methods are fair. Each
// ends in the "deep feature" (fc-F, after ReLU) and the fc-bits hash layer with batch
// normalisation on its pre-activation; the output activation belongs to the method (DSH:
// linear; tanh-based methods: tanh), applied by the hasher.
// - "small-cnn": conv5x5-32, pool, conv5x5-64, pool, fc-500 (the deep-hashing papers'
//   small-image network). "small-cnn-wide" doubles every width (64, 128, 1000).
// - "vgg-bn": two VGG stages of two conv3x3 + BatchNorm + ReLU (32 then 64 channels), each
//   followed by a 2x2 pool, then fc-256. About 1.6x small-cnn's multiply-adds; with
//   augmentation it kept improving for 60 epochs on fmnist-1 and beat small-cnn's mAP@all
//   by 2 to 4 points (docs/results.md, "Deep hashers under one short budget"). "vgg-bn-deep" adds a
//   third stage of 128 channels (7x7 -> 3x3 on Fashion-MNIST), about 1.5x vgg-bn's multiply-adds.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/dataset.h"

namespace hamster {

struct BackboneOutput {
  torch::Tensor feature;  // N x feature_width(), after ReLU
  torch::Tensor hash;     // N x bits, batch-normalised pre-activation
};

// What the hashers see of a backbone.
class BackboneImpl : public torch::nn::Module {
 public:
  BackboneImpl(int64_t feature_width, int64_t largest_activation_bytes, int64_t encode_batch_bytes)
      : feature_width_(feature_width),
        largest_activation_bytes_(largest_activation_bytes),
        encode_batch_bytes_(encode_batch_bytes) {}
  int64_t feature_width() const { return feature_width_; }
  // Bytes of the largest activation one image makes (the first conv's output), for sizing
  // batches.
  int64_t largest_activation_bytes() const { return largest_activation_bytes_; }
  // How large that activation may grow for a whole encoding batch: the fastest size
  // measured with bench_training (see encode_batch_rows).
  int64_t encode_batch_bytes() const { return encode_batch_bytes_; }
  virtual BackboneOutput forward(const torch::Tensor& images) = 0;
  // Forward-only (encoding), in evaluation mode; a backbone may take a faster path.
  virtual BackboneOutput infer(const torch::Tensor& images) { return forward(images); }
  // Deterministic initialisation (PyTorch's default ranges for convolutions and linear
  // layers; BatchNorm keeps weight 1, bias 0) from one seeded generator, so that
  // concurrent trainings in one process do not share the global torch seed.
  void initialise(uint64_t seed);
  // Dropout on the deep feature where it enters the hash layer, in training only (the
  // deep-hashing papers' networks drop out before their last layers). Masks come from the
  // backbone's own generator, seeded by initialise(), for the same reason as the weights.
  void set_dropout(double probability);
  // The dropout generator's state, for a fit's checkpoint.
  torch::Tensor dropout_state() const { return dropout_generator_.get_state(); }
  void set_dropout_state(const torch::Tensor& state) { dropout_generator_.set_state(state); }

 protected:
  // The feature the hash layer sees: `feature` itself, or with dropout while training.
  torch::Tensor hash_input(const torch::Tensor& feature);

 private:
  int64_t feature_width_;
  int64_t largest_activation_bytes_;
  int64_t encode_batch_bytes_;
  double dropout_ = 0;
  at::Generator dropout_generator_ = at::make_generator<at::CPUGeneratorImpl>(0);
};
using Backbone = std::shared_ptr<BackboneImpl>;

class SmallCnnImpl : public BackboneImpl {
 public:
  SmallCnnImpl(int64_t channels, int64_t height, int64_t width, int bits, int64_t conv1_width,
               int64_t conv2_width, int64_t feature_width);
  BackboneOutput forward(const torch::Tensor& images) override;
  // On the CPU it runs in MKL-DNN's blocked layout, which skips the layout conversions
  // around every convolution: same numbers, about 2x the images/s.
  BackboneOutput infer(const torch::Tensor& images) override;

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::nn::Linear hash_{nullptr};
  torch::nn::BatchNorm1d hash_bn_{nullptr};
};

class VggBnImpl : public BackboneImpl {
 public:
  // Two conv3x3 + BatchNorm + ReLU layers per stage, `stage_widths` channels each.
  VggBnImpl(int64_t channels, int64_t height, int64_t width, int bits,
            const std::vector<int64_t>& stage_widths);
  BackboneOutput forward(const torch::Tensor& images) override;
  // On the CPU each BatchNorm is folded into the convolution before it (evaluation mode
  // uses fixed statistics, so conv + BN is one affine map) and runs in MKL-DNN's layout.
  BackboneOutput infer(const torch::Tensor& images) override;

 private:
  std::vector<torch::nn::Conv2d> convs_;  // conv3x3, no bias (the BatchNorm has one)
  std::vector<torch::nn::BatchNorm2d> norms_;
  torch::nn::Linear fc_{nullptr};
  torch::nn::Linear hash_{nullptr};
  torch::nn::BatchNorm1d hash_bn_{nullptr};
};

// Builds the backbone named in a config for images of this shape; throws Error naming
// the known backbones for an unknown name.
Backbone make_backbone(const std::string& name, int64_t channels, int64_t height, int64_t width,
                       int bits);
std::vector<std::string> backbone_names();

// data[ids] as a float tensor N x C x H x W scaled to [-1, 1].
torch::Tensor images_to_tensor(const Dataset& data, const std::vector<int64_t>& ids);

// Makes glibc's malloc keep freed memory for reuse instead of handing it back to the
// kernel: LibTorch frees and reallocates the same megabytes of activations every batch,
// and glibc's default (trim the heap top past a dynamic threshold, mmap large blocks)
// turned that into page faults: a fifth of a training thread's time was system time.
// Fixed thresholds: blocks under 32 MB come from the heap, and a heap is trimmed only
// when 256 MB lie free at its top.
void keep_freed_memory_for_reuse();

// Images per forward pass when encoding: as many as keep the batch's largest activation
// near the backbone's encode_batch_bytes(), at least 16 and at most 500.
// - small-cnn: 50 MB, what 500 Fashion-MNIST images need. Larger batches cost more in
//   fresh memory than they save: 500 fmnist-mosaic images per batch (4x the pixels)
//   encoded at a fifth of the speed of 130 (bench_training --dataset fmnist-mosaic), while
//   on 28x28 images batches smaller than 500 were slower.
// - vgg-bn: 6 MB (60 Fashion-MNIST images). Its four 3x3 convolutions each read and write
//   the whole batch's activations; at 500 images they miss the cache, and encoding ran at
//   a quarter to half the speed (bench_training --backbone vgg-bn).
int64_t encode_batch_rows(const BackboneImpl& net);

// Resolves "cpu" / "cuda"; throws Error if CUDA is asked for but unavailable.
torch::Device resolve_device(const std::string& name);

}  // namespace hamster
