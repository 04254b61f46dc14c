#include "hashers/backbone.h"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "framework/error.h"

namespace hamster {

namespace nn = torch::nn;

namespace {

// Both backbones pool twice by 2.
void check_sides(const char* backbone, int64_t height, int64_t width) {
  if (height % 4 || width % 4)
    throw Error(std::string(backbone) + " needs image sides divisible by 4, got " +
                std::to_string(height) + "x" + std::to_string(width));
}

int64_t activation_bytes(int64_t conv1_width, int64_t height, int64_t width) {
  return conv1_width * height * width * static_cast<int64_t>(sizeof(float));
}

}  // namespace

SmallCnnImpl::SmallCnnImpl(int64_t channels, int64_t height, int64_t width, int bits,
                           int64_t conv1_width, int64_t conv2_width, int64_t feature_width)
    : BackboneImpl(feature_width, activation_bytes(conv1_width, height, width), 50 << 20) {
  check_sides("small-cnn", height, width);
  const int64_t flat = conv2_width * (height / 4) * (width / 4);
  conv1_ =
      register_module("conv1", nn::Conv2d(nn::Conv2dOptions(channels, conv1_width, 5).padding(2)));
  conv2_ = register_module("conv2",
                           nn::Conv2d(nn::Conv2dOptions(conv1_width, conv2_width, 5).padding(2)));
  fc_ = register_module("fc", nn::Linear(flat, feature_width));
  hash_ = register_module("hash", nn::Linear(feature_width, bits));
  // Without BN here, pairwise losses trained from scratch collapse to a few codes.
  hash_bn_ = register_module("hash_bn", nn::BatchNorm1d(bits));
}

// Max-pooling before the ReLU gives the same values as after it (both are monotone) and
// the ReLU then touches 4x fewer activations.
BackboneOutput SmallCnnImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = torch::max_pool2d(conv1_->forward(images), 2).relu();
  x = torch::max_pool2d(conv2_->forward(x), 2).relu().flatten(1);
  torch::Tensor feature = fc_->forward(x).relu();
  return {feature, hash_bn_->forward(hash_->forward(hash_input(feature)))};
}

BackboneOutput SmallCnnImpl::infer(const torch::Tensor& images) {
  if (!images.is_cpu() || !at::hasMKLDNN() || is_training()) return forward(images);
  auto conv = [](const torch::Tensor& x, const nn::Conv2d& c) {
    return at::mkldnn_convolution(x, c->weight.to_mkldnn(), c->bias.to_mkldnn(), {2, 2}, {1, 1},
                                  {1, 1}, 1);
  };
  torch::Tensor x = images.to_mkldnn();
  x = at::relu(at::mkldnn_max_pool2d(conv(x, conv1_), {2, 2}, {2, 2}));
  x = at::relu(at::mkldnn_max_pool2d(conv(x, conv2_), {2, 2}, {2, 2}));
  torch::Tensor feature = fc_->forward(x.to_dense().flatten(1)).relu();
  return {feature, hash_bn_->forward(hash_->forward(feature))};
}

VggBnImpl::VggBnImpl(int64_t channels, int64_t height, int64_t width, int bits,
                     const std::vector<int64_t>& stage_widths)
    : BackboneImpl(256, activation_bytes(stage_widths.at(0), height, width), 6 << 20) {
  check_sides("vgg-bn", height, width);
  int64_t in = channels;
  for (int64_t out : stage_widths)
    for (int layer = 0; layer < 2; ++layer) {
      const std::string i = std::to_string(convs_.size() + 1);
      convs_.push_back(register_module(
          "conv" + i, nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false))));
      norms_.push_back(register_module("bn" + i, nn::BatchNorm2d(out)));
      in = out;
    }
  // Each stage's 2x2 pool halves the sides, rounding down (7 -> 3).
  for (size_t stage = 0; stage < stage_widths.size(); ++stage) height /= 2, width /= 2;
  if (height < 1 || width < 1)
    throw Error(fmt::format("vgg-bn with {} stages needs image sides of at least {}",
                            stage_widths.size(), 1 << stage_widths.size()));
  fc_ = register_module("fc", nn::Linear(in * height * width, feature_width()));
  hash_ = register_module("hash", nn::Linear(feature_width(), bits));
  hash_bn_ = register_module("hash_bn", nn::BatchNorm1d(bits));
}

// Each stage is two layers (1-2, 3-4, ...); a 2x2 max-pool ends each.
BackboneOutput VggBnImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = images;
  for (size_t i = 0; i < convs_.size(); ++i) {
    x = norms_[i]->forward(convs_[i]->forward(x)).relu();
    if (i % 2 == 1) x = torch::max_pool2d(x, 2);
  }
  torch::Tensor feature = fc_->forward(x.flatten(1)).relu();
  return {feature, hash_bn_->forward(hash_->forward(hash_input(feature)))};
}

BackboneOutput VggBnImpl::infer(const torch::Tensor& images) {
  if (!images.is_cpu() || !at::hasMKLDNN() || is_training()) return forward(images);
  torch::Tensor x = images.to_mkldnn();
  for (size_t i = 0; i < convs_.size(); ++i) {
    const auto& bn = norms_[i];
    const torch::Tensor scale = bn->weight / (bn->running_var + bn->options.eps()).sqrt();
    const torch::Tensor w = convs_[i]->weight * scale.view({-1, 1, 1, 1});
    const torch::Tensor b = bn->bias - bn->running_mean * scale;
    x = at::relu(
        at::mkldnn_convolution(x, w.to_mkldnn(), b.to_mkldnn(), {1, 1}, {1, 1}, {1, 1}, 1));
    if (i % 2 == 1) x = at::mkldnn_max_pool2d(x, {2, 2}, {2, 2});
  }
  torch::Tensor feature = fc_->forward(x.to_dense().flatten(1)).relu();
  return {feature, hash_bn_->forward(hash_->forward(feature))};
}

void BackboneImpl::set_dropout(double probability) {
  if (!(probability >= 0 && probability < 1))
    throw Error(fmt::format("dropout must be in [0, 1), got {}", probability));
  dropout_ = probability;
}

torch::Tensor BackboneImpl::hash_input(const torch::Tensor& feature) {
  if (!is_training() || dropout_ == 0) return feature;
  // Drawn on the CPU whatever the device, so the masks are the same on CUDA.
  torch::Tensor keep = torch::empty(feature.sizes(), torch::kFloat)
                           .bernoulli_(1 - dropout_, dropout_generator_)
                           .to(feature.device());
  return feature * keep / (1 - dropout_);
}

void BackboneImpl::initialise(uint64_t seed) {
  torch::NoGradGuard no_grad;
  dropout_generator_ = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0xd7090e7ull);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& module : modules(/*include_self=*/false)) {
    torch::Tensor w, b;
    if (auto* conv = module->as<nn::Conv2d>()) {
      w = conv->weight, b = conv->bias;  // b is undefined when the conv has none
    } else if (auto* lin = module->as<nn::Linear>()) {
      w = lin->weight, b = lin->bias;
    } else {
      continue;  // BatchNorm keeps weight 1, bias 0
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(w[0].numel()));
    w.uniform_(-bound, bound, gen);
    if (b.defined()) b.uniform_(-bound, bound, gen);
  }
}

std::vector<std::string> backbone_names() {
  return {"small-cnn", "small-cnn-wide", "vgg-bn", "vgg-bn-deep"};
}

Backbone make_backbone(const std::string& name, int64_t channels, int64_t height, int64_t width,
                       int bits) {
  if (name == "small-cnn")
    return std::make_shared<SmallCnnImpl>(channels, height, width, bits, 32, 64, 500);
  if (name == "small-cnn-wide")
    return std::make_shared<SmallCnnImpl>(channels, height, width, bits, 64, 128, 1000);
  if (name == "vgg-bn")
    return std::make_shared<VggBnImpl>(channels, height, width, bits, std::vector<int64_t>{32, 64});
  if (name == "vgg-bn-deep")
    return std::make_shared<VggBnImpl>(channels, height, width, bits,
                                       std::vector<int64_t>{32, 64, 128});
  throw Error(
      fmt::format("unknown backbone '{}' (known: {})", name, fmt::join(backbone_names(), ", ")));
}

torch::Tensor images_to_tensor(const Dataset& data, const std::vector<int64_t>& ids) {
  const int64_t bytes = data.image_bytes();
  auto out =
      torch::empty({static_cast<int64_t>(ids.size()), data.channels, data.height, data.width});
  float* dst = out.data_ptr<float>();
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint8_t* src = data.image(ids[i]);
    for (int64_t p = 0; p < bytes; ++p) dst[i * bytes + p] = src[p] * (2.0f / 255.0f) - 1.0f;
  }
  return out;
}

int64_t encode_batch_rows(const BackboneImpl& net) {
  return std::clamp<int64_t>(net.encode_batch_bytes() / net.largest_activation_bytes(), 16, 500);
}

void keep_freed_memory_for_reuse() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
  });
}

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available())
      throw Error("device 'cuda' requested, but this LibTorch build has no usable CUDA device");
    return torch::kCUDA;
  }
  throw Error("unknown device '" + name + "' (known: cpu, cuda)");
}

}  // namespace hamster
