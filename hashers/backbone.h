#pragma once
// The backbone every deep hasher shares, so comparisons between methods are fair:
// conv5x5-c1, pool, conv5x5-c2, pool, fc-F (the "deep feature"), then the fc-bits hash
// layer with batch normalisation on its pre-activation. "small-cnn" is c1 = 32, c2 = 64,
// F = 500; "small-cnn-wide" doubles every width (64, 128, 1000). The output activation belongs to
// the method (DSH: linear; tanh-based methods: tanh), applied by the hasher.
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

class SmallCnnImpl : public torch::nn::Module {
 public:
  SmallCnnImpl(int64_t channels, int64_t height, int64_t width, int bits, int64_t conv1_width = 32,
               int64_t conv2_width = 64, int64_t feature_width = 500);
  int64_t feature_width() const { return feature_width_; }
  // Bytes of the largest activation one image makes (conv1's output), for sizing batches.
  int64_t largest_activation_bytes() const { return largest_activation_bytes_; }
  BackboneOutput forward(const torch::Tensor& images);
  // Forward-only (encoding). On the CPU it runs in MKL-DNN's blocked layout, which skips
  // the layout conversions around every convolution: same numbers, about 2x the images/s.
  BackboneOutput infer(const torch::Tensor& images);
  // Deterministic initialisation (PyTorch's default ranges) from one seeded generator, so
  // that concurrent trainings in one process do not share the global torch seed.
  void initialise(uint64_t seed);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::nn::Linear hash_{nullptr};
  torch::nn::BatchNorm1d hash_bn_{nullptr};
  int64_t feature_width_;
  int64_t largest_activation_bytes_;
};
TORCH_MODULE(SmallCnn);

// Builds the backbone named in a config for images of this shape; throws Error naming
// the known backbones for an unknown name.
SmallCnn make_backbone(const std::string& name, int64_t channels, int64_t height, int64_t width,
                       int bits);
std::vector<std::string> backbone_names();

// data[ids] as a float tensor N x C x H x W scaled to [-1, 1].
torch::Tensor images_to_tensor(const Dataset& data, const std::vector<int64_t>& ids);

// Makes OpenBLAS (when it is the BLAS LibTorch loaded) run single-threaded. LibTorch
// parallelises around its BLAS calls itself, and Debian's pthread OpenBLAS keeps one
// worker per core busy-waiting between calls, which steals the second core: measured with
// bench_training, two trainings side by side went from 1.3x to 1.96x one training.
void keep_blas_single_threaded();

// Makes glibc's malloc keep freed memory for reuse instead of handing it back to the
// kernel: LibTorch frees and reallocates the same megabytes of activations every batch,
// and glibc's default (trim the heap top past a dynamic threshold, mmap large blocks)
// turned that into page faults: a fifth of a training thread's time was system time.
// Fixed thresholds: blocks under 32 MB come from the heap, and a heap is trimmed only
// when 256 MB lie free at its top.
void keep_freed_memory_for_reuse();

// Images per forward pass when encoding: as many as keep the batch's largest activation
// near what 500 Fashion-MNIST images need (50 MB), at least 16 and at most 500. Larger
// batches cost more in fresh memory than they save: 500 fmnist-mosaic images per batch
// (4x the pixels) encoded at a fifth of the speed of 130 (bench_training --dataset
// fmnist-mosaic), while on 28x28 images batches smaller than 500 were slower.
int64_t encode_batch_rows(const SmallCnnImpl& net);

// Resolves "cpu" / "cuda"; throws Error if CUDA is asked for but unavailable.
torch::Device resolve_device(const std::string& name);

}  // namespace hamster
