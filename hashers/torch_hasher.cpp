#include "hashers/torch_hasher.h"

#include <fmt/format.h>

#include <chrono>
#include <fstream>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/npy.h"

namespace hamster {

std::vector<ParamSpec> deep_hasher_params() {
  return {
      {"backbone", "small-cnn", "network trunk shared by all deep hashers"},
      {"epochs", "40", "passes over the training set"},
      {"batch_size", "64", "mini-batch size"},
      {"lr", "0.001", "Adam learning rate"},
      {"weight_decay", "0", "Adam weight decay"},
      {"device", "cpu", "cpu or cuda (cuda needs a CUDA build of LibTorch)"},
  };
}

DeepHasher::DeepHasher(const Params& p, int bits)
    : bits_(bits),
      backbone_name_(p.get_string("backbone")),
      device_name_(p.get_string("device")),
      epochs_(p.get_int("epochs")),
      batch_size_(p.get_int("batch_size")),
      lr_(p.get_double("lr")),
      weight_decay_(p.get_double("weight_decay")) {
  if (bits < 1 || bits > 1024) throw Error("bits must be in 1..1024, got " + std::to_string(bits));
  if (epochs_ < 1) throw Error("epochs must be >= 1, got " + std::to_string(epochs_));
  if (batch_size_ < 2) throw Error("batch_size must be >= 2, got " + std::to_string(batch_size_));
  if (lr_ <= 0) throw Error("lr must be > 0");
  resolve_device(device_name_);  // fail at configuration time, not after loading data
}

void DeepHasher::build(const Dataset& data) {
  net_ = make_backbone(backbone_name_, data, bits_);
  channels_ = data.channels, height_ = data.height, width_ = data.width;
}

void DeepHasher::fit(const Dataset& data, const std::vector<int64_t>& ids, const FitContext& ctx) {
  if (ids.size() < 2) throw Error(method() + ": needs at least 2 training items");
  keep_blas_single_threaded();
  at::set_num_threads(std::max(1, ctx.threads));
  const torch::Device device = resolve_device(device_name_);
  build(data);
  net_->initialise(ctx.seed);
  net_->to(device);
  net_->train();

  const int64_t n = static_cast<int64_t>(ids.size());
  torch::Tensor images = images_to_tensor(data, ids).to(device);
  // The losses compare labels as one int64 mask per item: classes 0..62 (bit 63 is the sign).
  if (data.num_classes() > 63)
    throw Error(method() + ": trains on at most 63 classes, dataset '" + data.name + "' has " +
                std::to_string(data.num_classes()));
  std::vector<int64_t> masks(n, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < data.num_classes(); ++c)
      if (data.has_label(ids[i], c)) masks[i] |= int64_t{1} << c;
  torch::Tensor labels = torch::from_blob(masks.data(), {n}, torch::kInt64).to(device).clone();
  begin_fit(labels, device);

  torch::optim::Adam optimiser(net_->parameters(),
                               torch::optim::AdamOptions(lr_).weight_decay(weight_decay_));
  Rng rng(ctx.seed ^ 0x5eedf17ull);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  for (int epoch = 1; epoch <= epochs_; ++epoch) {
    shuffle(order, rng);
    double loss_sum = 0;
    int64_t batches = 0;
    // A trailing batch of one item would break batch normalisation: drop it.
    for (int64_t b = 0; b + 1 < n; b += batch_size_) {
      const int64_t e = std::min(n, b + batch_size_);
      auto index = torch::from_blob(order.data() + b, {e - b}, torch::kInt64).to(device);
      BackboneOutput out = net_->forward(images.index_select(0, index));
      torch::Tensor l = loss(activate(out.hash), index, labels.index_select(0, index));
      if (!std::isfinite(l.item<double>()))
        throw Error(method() + ": loss became " + std::to_string(l.item<double>()) + " at epoch " +
                    std::to_string(epoch) + " (try a smaller lr)");
      optimiser.zero_grad();
      l.backward();
      optimiser.step();
      loss_sum += l.item<double>();
      ++batches;
    }
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    ctx.print(fmt::format("  {} {}b seed {}: epoch {}/{} loss {:.4f}  {:.1f}s  ETA {:.0f}s",
                          method(), bits_, ctx.seed, epoch, epochs_, loss_sum / batches, seconds,
                          seconds / epoch * (epochs_ - epoch)));
  }
  const double seconds = std::chrono::duration<double>(clock::now() - start).count();
  train_images_per_second_ = static_cast<double>(n) * epochs_ / seconds;
  net_->eval();
}

Encoded DeepHasher::encode(const Dataset& data, const std::vector<int64_t>& ids,
                           int threads) const {
  if (!net_) throw Error(method() + ": encode() before fit() or load()");
  if (data.channels != channels_ || data.height != height_ || data.width != width_)
    throw Error(method() + ": trained on " + std::to_string(channels_) + "x" +
                std::to_string(height_) + "x" + std::to_string(width_) + " images, got " +
                data.name + " with " + std::to_string(data.channels) + "x" +
                std::to_string(data.height) + "x" + std::to_string(data.width));
  keep_blas_single_threaded();
  at::set_num_threads(std::max(1, threads));
  const torch::Device device = resolve_device(device_name_);
  c10::InferenceMode inference;
  net_->eval();

  const int64_t n = static_cast<int64_t>(ids.size());
  Encoded out;
  out.real.resize(n, bits_);
  out.features.resize(n, 500);
  constexpr int64_t kBatch = 500;
  for (int64_t b = 0; b < n; b += kBatch) {
    std::vector<int64_t> chunk(ids.begin() + b, ids.begin() + std::min(n, b + kBatch));
    BackboneOutput o = net_->infer(images_to_tensor(data, chunk).to(device));
    torch::Tensor h = activate(o.hash).to(torch::kCPU).contiguous();
    torch::Tensor f = o.feature.to(torch::kCPU).contiguous();
    const int64_t rows = static_cast<int64_t>(chunk.size());
    std::copy_n(h.data_ptr<float>(), rows * bits_, out.real.data() + b * bits_);
    std::copy_n(f.data_ptr<float>(), rows * 500, out.features.data() + b * 500);
  }
  out.codes = BinaryCodes::from_signs(out.real.data(), n, bits_);
  return out;
}

void DeepHasher::save(const std::filesystem::path& dir) const {
  if (!net_) throw Error(method() + ": save() before fit()");
  std::filesystem::create_directories(dir);
  const auto tmp = dir / "model.pt.tmp";
  torch::serialize::OutputArchive archive;
  net_->to(torch::kCPU);
  net_->save(archive);
  archive.save_to(tmp.string());
  net_->to(resolve_device(device_name_));
  std::filesystem::rename(tmp, dir / "model.pt");
  write_file_atomic(dir / "shape.txt",
                    fmt::format("{} {} {} {}\n", channels_, height_, width_, bits_));
}

void DeepHasher::load(const std::filesystem::path& dir) {
  std::ifstream shape(dir / "shape.txt");
  int64_t c = 0, h = 0, w = 0;
  int bits = 0;
  if (!(shape >> c >> h >> w >> bits))
    throw Error((dir / "shape.txt").string() + ": missing or unreadable model shape");
  if (bits != bits_)
    throw Error((dir / "shape.txt").string() + ": model has " + std::to_string(bits) +
                " bits, expected " + std::to_string(bits_));
  Dataset shape_only;
  shape_only.channels = c, shape_only.height = h, shape_only.width = w;
  build(shape_only);
  // LibTorch reports a damaged file with a long C++ stack trace naming no file: keep its
  // first line and say which file, and what to do.
  const std::filesystem::path file = dir / "model.pt";
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(file.string());
    net_->load(archive);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw Error(file.string() + ": cannot load the model (" + what.substr(0, what.find('\n')) +
                "); rerun with --force");
  }
  net_->to(resolve_device(device_name_));
  net_->eval();
}

}  // namespace hamster
