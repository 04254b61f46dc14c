#include "hashers/torch_hasher.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/graph/gram.h"
#include "framework/npy.h"
#include "hashers/weight_average.h"

namespace hamster {

double scheduled_lr(const std::string& schedule, double lr, int epoch, int epochs) {
  if (schedule == "constant") return lr;
  if (schedule == "cosine") return lr * 0.5 * (1 + std::cos(M_PI * (epoch - 1) / epochs));
  throw Error("unknown lr_schedule '" + schedule + "' (known: constant, cosine)");
}

std::vector<ParamSpec> deep_hasher_params() {
  std::vector<ParamSpec> specs = training_params();
  for (ParamSpec& p : specs)  // the trunks this build has, by name
    if (p.name == "backbone")
      p.help = fmt::format("network trunk: {}", fmt::join(backbone_names(), ", "));
  return specs;
}

std::string torch_error_line(const std::exception& e) {
  const std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

torch::Tensor label_matrix(const Dataset& data, const std::vector<int64_t>& ids) {
  const int classes = data.num_classes();
  if (classes < 1) throw Error(data.name + ": no class names, cannot build a label matrix");
  torch::Tensor y = torch::zeros({static_cast<int64_t>(ids.size()), classes});
  float* p = y.data_ptr<float>();
  for (size_t i = 0; i < ids.size(); ++i)
    for (int c = 0; c < classes; ++c)
      if (data.has_label(ids[i], c)) p[i * classes + c] = 1.0f;
  return y;
}

torch::Tensor label_similarity(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.matmul(b.t()) > 0.5).to(a.dtype());
}

void OutputBank::reset(int64_t items, int bits, const torch::Device& device) {
  outputs_ = torch::zeros({items, bits}, torch::TensorOptions(device));
  seen_ = torch::zeros({items}, torch::TensorOptions(device).dtype(torch::kBool));
}

void OutputBank::update(const torch::Tensor& index, const torch::Tensor& u) {
  outputs_.index_copy_(0, index, u.detach());
  seen_.index_fill_(0, index, true);
}

void OutputBank::restore(const torch::Tensor& outputs, const torch::Tensor& seen) {
  if (!outputs.sizes().equals(outputs_.sizes()) || !seen.sizes().equals(seen_.sizes()))
    throw Error("output bank of the wrong shape");
  outputs_.copy_(outputs);
  seen_.copy_(seen);
}

DeepHasher::DeepHasher(const Params& p, int bits)
    : bits_(bits),
      backbone_name_(p.get_string("backbone")),
      device_name_(p.get_string("device")),
      optimiser_name_(p.get_string("optimiser")),
      lr_schedule_(p.get_string("lr_schedule")),
      epochs_(p.get_int("epochs")),
      batch_size_(p.get_int("batch_size")),
      select_every_(p.get_int("select_every")),
      lr_(p.get_double("lr")),
      weight_decay_(p.get_double("weight_decay")),
      dropout_(p.get_double("dropout")),
      weight_average_(p.get_double("weight_average")),
      augmentation_(parse_augmentation(p.get_string("augment"))) {
  if (bits < 1 || bits > 1024) throw Error("bits must be in 1..1024, got " + std::to_string(bits));
  if (epochs_ < 1) throw Error("epochs must be >= 1, got " + std::to_string(epochs_));
  if (batch_size_ < 2) throw Error("batch_size must be >= 2, got " + std::to_string(batch_size_));
  if (lr_ <= 0) throw Error("lr must be > 0");
  if (weight_decay_ < 0) throw Error("weight_decay must be >= 0");
  if (select_every_ < 0)
    throw Error("select_every must be >= 0, got " + std::to_string(select_every_));
  scheduled_lr(lr_schedule_, lr_, 1, epochs_);  // an unknown schedule fails here
  if (optimiser_name_ != "adam" && optimiser_name_ != "sgd")
    throw Error("unknown optimiser '" + optimiser_name_ + "' (known: adam, sgd)");
  // Fail at configuration time, not after loading data (an unknown backbone, a dropout
  // or weight_average outside [0, 1)).
  make_backbone(backbone_name_, 1, 8, 8, bits)->set_dropout(dropout_);
  WeightAverage::check_decay(weight_average_);
  resolve_device(device_name_);
}

void DeepHasher::build(int64_t channels, int64_t height, int64_t width) {
  net_ = make_backbone(backbone_name_, channels, height, width, bits_);
  net_->set_dropout(dropout_);
  channels_ = channels, height_ = height, width_ = width;
}

void DeepHasher::fit(const Dataset& data, const std::vector<int64_t>& ids, const FitContext& ctx) {
  if (ids.size() < 2) throw Error(method() + ": needs at least 2 training items");
  keep_blas_single_threaded();
  keep_freed_memory_for_reuse();
  at::set_num_threads(std::max(1, ctx.threads));
  const torch::Device device = resolve_device(device_name_);
  build(data.channels, data.height, data.width);
  net_->initialise(ctx.seed);
  net_->to(device);
  net_->train();

  const int64_t n = static_cast<int64_t>(ids.size());
  torch::Tensor images = images_to_tensor(data, ids).to(device);
  torch::Tensor labels = label_matrix(data, ids).to(device);
  bank_.reset(n, bits_, device);
  train_labels_ = labels;
  begin_fit(TrainingSet{labels, device, ctx.seed});

  std::vector<torch::Tensor> trained = net_->parameters();
  for (const auto& t : extra_parameters()) trained.push_back(t);
  std::unique_ptr<torch::optim::Optimizer> optimiser;
  if (optimiser_name_ == "sgd")
    optimiser = std::make_unique<torch::optim::SGD>(
        trained, torch::optim::SGDOptions(lr_).momentum(0.9).weight_decay(weight_decay_));
  else
    optimiser = std::make_unique<torch::optim::Adam>(
        trained, torch::optim::AdamOptions(lr_).weight_decay(weight_decay_));

  // Starts from the initial weights. Training updates the live tensors; the average is
  // swapped into the network only to be evaluated or kept.
  std::unique_ptr<WeightAverage> average;
  if (weight_average_ > 0) average = std::make_unique<WeightAverage>(*net_, weight_average_);

  // Model selection looks only at training items: the validation split is carved from
  // them, and is ranked against the rest of them.
  const bool selecting = select_every_ > 0 && !ctx.validation.empty();

  FitProgress progress;
  progress.best_epoch = epochs_;
  progress.order_rng = ctx.seed ^ 0x5eedf17ull;
  progress.augment_rng = ctx.seed ^ 0xa5617e47ull;  // its own stream: the order does not change
  progress.order.resize(n);
  for (int64_t i = 0; i < n; ++i) progress.order[i] = i;
  const bool resuming = !ctx.checkpoint.empty() && std::filesystem::exists(ctx.checkpoint);
  if (resuming) {
    progress = read_checkpoint(ctx.checkpoint, *optimiser, average.get());
    ctx.print(fmt::format("  {} {}b seed {}: resuming after epoch {}/{} from {}", method(), bits_,
                          ctx.seed, progress.epoch, epochs_, ctx.checkpoint.string()));
  }
  const double seconds_before = progress.seconds;
  Rng rng(progress.order_rng), augment_rng(progress.augment_rng);
  std::vector<int64_t>& order = progress.order;

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const int first_epoch = progress.epoch + 1;
  for (int epoch = first_epoch; epoch <= epochs_; ++epoch) {
    begin_epoch(epoch, epochs_);
    for (auto& group : optimiser->param_groups())
      group.options().set_lr(scheduled_lr(lr_schedule_, lr_, epoch, epochs_));
    shuffle(order, rng);
    double loss_sum = 0;
    int64_t batches = 0;
    // A trailing batch of one item would break batch normalisation: drop it.
    for (int64_t b = 0; b + 1 < n; b += batch_size_) {
      const int64_t e = std::min(n, b + batch_size_);
      auto index = torch::from_blob(order.data() + b, {e - b}, torch::kInt64).to(device);
      BackboneOutput out =
          net_->forward(augment_batch(images.index_select(0, index), augmentation_, augment_rng));
      Batch batch{activate(out.hash), out.feature, index, labels.index_select(0, index)};
      bank_.update(index, batch.u);
      torch::Tensor l = loss(batch);
      const double value = l.item<double>();
      if (!std::isfinite(value))
        throw Error(method() + ": loss became " + std::to_string(value) + " at epoch " +
                    std::to_string(epoch) + " (try a smaller lr)");
      optimiser->zero_grad();
      l.backward();
      optimiser->step();
      if (average) average->update();
      loss_sum += value;
      ++batches;
    }
    end_epoch(epoch, epochs_);

    std::string selection;
    if (selecting && (epoch % select_every_ == 0 || epoch == epochs_)) {
      const auto t0 = clock::now();
      if (average) average->swap();
      const double map = validation_map(data, ids, ctx.validation, ctx.threads);
      if (map > progress.best_map)
        progress.best_map = map, progress.best_epoch = epoch, progress.best_state = snapshot();
      if (average) average->swap();
      progress.selection_seconds += std::chrono::duration<double>(clock::now() - t0).count();
      selection = fmt::format("  validation mAP {:.4f} (best {:.4f} at {})", map, progress.best_map,
                              progress.best_epoch);
    }
    progress.epoch = epoch;
    progress.seconds = seconds_before + std::chrono::duration<double>(clock::now() - start).count();
    progress.order_rng = rng.state(), progress.augment_rng = augment_rng.state();
    if (!ctx.checkpoint.empty())
      write_checkpoint(ctx.checkpoint, progress, *optimiser, average.get());
    // The ETA extrapolates from this process's epochs only.
    const double here = progress.seconds - seconds_before;
    ctx.print(fmt::format("  {} {}b seed {}: epoch {}/{} loss {:.4f}{}  {:.1f}s  ETA {:.0f}s",
                          method(), bits_, ctx.seed, epoch, epochs_, loss_sum / batches, selection,
                          progress.seconds, here / (epoch - first_epoch + 1) * (epochs_ - epoch)));
  }
  train_images_per_second_ =
      static_cast<double>(n) * epochs_ / (progress.seconds - progress.selection_seconds);
  summary_ = {{"epochs", epochs_}, {"chosen_epoch", progress.best_epoch}};
  if (resuming) {
    summary_["resumed_after_epoch"] = first_epoch - 1;
    summary_["seconds_before_resume"] = seconds_before;
  }
  if (average) average->swap();  // the model kept is the average
  if (selecting) {
    summary_["validation_map"] = progress.best_map;
    if (progress.best_epoch != epochs_) restore(progress.best_state);
  }
  net_->eval();
}

DeepHasher::Partners DeepHasher::partners(const Batch& batch, bool from_bank) const {
  if (!from_bank) return {batch.u, batch.labels, batch.index};
  torch::Tensor rows = bank_.seen();
  return {bank_.outputs().index_select(0, rows), train_labels_.index_select(0, rows), rows};
}

double DeepHasher::validation_map(const Dataset& data, const std::vector<int64_t>& train,
                                  const std::vector<int64_t>& validation, int threads) const {
  Encoded db = encode(data, train, threads);
  Encoded queries = encode(data, validation, threads);
  net_->train();
  auto labels_of = [&](const std::vector<int64_t>& ids) {
    std::vector<LabelSet> out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) out[i] = data.labels[ids[i]];
    return out;
  };
  EvalOptions opts;
  opts.map_at = {kAll};
  opts.precision_at = {};
  opts.recall_at = {};
  return evaluate(labels_of(validation), labels_of(train), queries.codes, db.codes, {}, opts)
      .get("mAP@all");
}

void DeepHasher::write_archive(torch::serialize::OutputArchive& archive) const {
  net_->save(archive);
  torch::serialize::OutputArchive state;
  save_state(state);
  archive.write("method_state", state);
}

void DeepHasher::read_archive(torch::serialize::InputArchive& archive) {
  net_->load(archive);
  torch::serialize::InputArchive state;
  // Models saved before methods had state have no such entry.
  if (archive.try_read("method_state", state)) load_state(state);
}

std::string DeepHasher::snapshot() const {
  torch::serialize::OutputArchive archive;
  write_archive(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

void DeepHasher::restore(const std::string& bytes) {
  std::istringstream in(bytes);
  torch::serialize::InputArchive archive;
  archive.load_from(in, resolve_device(device_name_));
  read_archive(archive);
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
  keep_freed_memory_for_reuse();
  at::set_num_threads(std::max(1, threads));
  const torch::Device device = resolve_device(device_name_);
  c10::InferenceMode inference;
  net_->eval();

  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t width = net_->feature_width();
  Encoded out;
  out.real.resize(n, bits_);
  out.features.resize(n, width);
  const int64_t batch = encode_batch_rows(*net_);
  for (int64_t b = 0; b < n; b += batch) {
    std::vector<int64_t> chunk(ids.begin() + b, ids.begin() + std::min(n, b + batch));
    BackboneOutput o = net_->infer(images_to_tensor(data, chunk).to(device));
    torch::Tensor h = activate(o.hash).to(torch::kCPU).contiguous();
    torch::Tensor f = o.feature.to(torch::kCPU).contiguous();
    const int64_t rows = static_cast<int64_t>(chunk.size());
    std::copy_n(h.data_ptr<float>(), rows * bits_, out.real.data() + b * bits_);
    std::copy_n(f.data_ptr<float>(), rows * width, out.features.data() + b * width);
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
  write_archive(archive);
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
  build(c, h, w);
  // LibTorch reports a damaged file with a long C++ stack trace naming no file: keep its
  // first line and say which file, and what to do.
  const std::filesystem::path file = dir / "model.pt";
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(file.string());
    read_archive(archive);
  } catch (const std::exception& e) {
    throw Error(file.string() + ": cannot load the model (" + torch_error_line(e) +
                "); rerun with --force");
  }
  net_->to(resolve_device(device_name_));
  net_->eval();
}

}  // namespace hamster
