// DeepHasher's checkpoint: everything a fit carries from one epoch to the next, so that a
// fit stopped part way goes on to the weights an uninterrupted fit reaches. The network
// and the method state (as in a saved model), the optimiser's moments, the weight average,
// the output bank, the dropout generator, the two Rng streams, the training order, the
// best epoch so far and the clock.
#include <fmt/format.h>

#include <cstring>
#include <filesystem>

#include "framework/error.h"
#include "framework/npy.h"
#include "hashers/torch_hasher.h"

namespace hamster {
namespace {

torch::Tensor bytes_tensor(const std::string& bytes) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  if (!bytes.empty()) std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
}

std::string tensor_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU).contiguous();
  if (c.numel() == 0) return {};
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), c.numel());
}

int64_t as_int64(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

uint64_t as_uint64(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

Error unreadable(const std::filesystem::path& file, const std::string& why) {
  return Error(file.string() + ": cannot read the checkpoint (" + why +
               "); delete it to start the fit over");
}

// progress tensor layout
enum Slot { kEpochs, kItems, kBits, kEpoch, kBestMap, kBestEpoch, kSeconds, kSelection, kSlots };

// Opens the checkpoint into `archive` and returns its progress numbers (kSlots doubles on
// the CPU); anything unreadable is an error naming the file.
torch::Tensor read_progress(torch::serialize::InputArchive& archive,
                            const std::filesystem::path& file, torch::Device device) {
  torch::Tensor numbers;
  try {
    archive.load_from(file.string(), device);
    archive.read("progress", numbers);
    numbers = numbers.to(torch::kCPU, torch::kDouble);
  } catch (const std::exception& e) {
    throw unreadable(file, torch_error_line(e));
  }
  if (numbers.dim() != 1 || numbers.size(0) != kSlots)
    throw unreadable(file, fmt::format("its progress holds {} numbers, not {}", numbers.numel(),
                                       static_cast<int>(kSlots)));
  return numbers;
}

}  // namespace

void DeepHasher::write_checkpoint(const std::filesystem::path& file, const FitProgress& progress,
                                  const torch::optim::Optimizer& optimiser,
                                  const WeightAverage* average) const {
  torch::serialize::OutputArchive archive, model, optimiser_state;
  write_archive(model);
  archive.write("model", model);
  optimiser.save(optimiser_state);
  archive.write("optimiser", optimiser_state);
  if (average) {
    torch::serialize::OutputArchive averaged;
    average->save(averaged);
    archive.write("average", averaged);
  }
  archive.write("bank_outputs", bank_.outputs());
  archive.write("bank_seen", bank_.seen_mask());
  archive.write("dropout_rng", net_->dropout_state());

  torch::Tensor numbers = torch::zeros({kSlots}, torch::kDouble);
  numbers[kEpochs] = epochs_;
  numbers[kItems] = static_cast<double>(progress.order.size());
  numbers[kBits] = bits_;
  numbers[kEpoch] = progress.epoch;
  numbers[kBestMap] = progress.best_map;
  numbers[kBestEpoch] = progress.best_epoch;
  numbers[kSeconds] = progress.seconds;
  numbers[kSelection] = progress.selection_seconds;
  archive.write("progress", numbers);
  archive.write("rng", torch::tensor({as_int64(progress.order_rng), as_int64(progress.augment_rng)},
                                     torch::kInt64));
  archive.write("order", torch::tensor(progress.order, torch::kInt64));
  archive.write("best_state", bytes_tensor(progress.best_state));

  std::string bytes;
  archive.save_to([&bytes](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  try {
    write_file_atomic(file, bytes);
  } catch (const std::exception& e) {
    throw Error(file.string() + ": cannot write the checkpoint (" + torch_error_line(e) + ")");
  }
}

std::string DeepHasher::checkpoint_progress(const std::filesystem::path& file) const {
  torch::serialize::InputArchive archive;
  const torch::Tensor numbers = read_progress(archive, file, torch::kCPU);
  auto number = [&](Slot s) { return numbers[s].item<double>(); };
  // The fit would refuse it (read_checkpoint); say so now rather than "resumes".
  if (number(kEpochs) != epochs_ || number(kBits) != bits_)
    throw Error(fmt::format(
        "{}: checkpoint of a fit of {} epochs, {} bits; this fit has {}, {} "
        "(delete it to start the fit over)",
        file.string(), number(kEpochs), number(kBits), epochs_, bits_));
  std::string words = fmt::format("after epoch {:.0f}/{:.0f}, {:.0f} s", number(kEpoch),
                                  number(kEpochs), number(kSeconds));
  if (number(kBestMap) >= 0)  // model selection has run
    words += fmt::format(", best validation mAP {:.4f} at epoch {:.0f}", number(kBestMap),
                         number(kBestEpoch));
  return words;
}

DeepHasher::FitProgress DeepHasher::read_checkpoint(const std::filesystem::path& file,
                                                    torch::optim::Optimizer& optimiser,
                                                    WeightAverage* average) {
  const torch::Device device = resolve_device(device_name_);
  torch::serialize::InputArchive archive;
  FitProgress progress;
  const torch::Tensor numbers = read_progress(archive, file, device);
  auto number = [&](Slot s) { return numbers[s].item<double>(); };
  const int64_t items = static_cast<int64_t>(bank_.outputs().size(0));
  if (number(kEpochs) != epochs_ || number(kItems) != items || number(kBits) != bits_)
    throw Error(fmt::format(
        "{}: checkpoint of a fit of {} epochs, {} items, {} bits; this fit has {}, {}, {} "
        "(delete it to start the fit over)",
        file.string(), number(kEpochs), number(kItems), number(kBits), epochs_, items, bits_));
  try {
    torch::serialize::InputArchive model, optimiser_state;
    archive.read("model", model);
    read_archive(model);
    archive.read("optimiser", optimiser_state);
    optimiser.load(optimiser_state);
    if (average) {
      torch::serialize::InputArchive averaged;
      archive.read("average", averaged);
      average->load(averaged);
    }
    torch::Tensor outputs, seen, dropout_rng, rng, order, best_state;
    archive.read("bank_outputs", outputs);
    archive.read("bank_seen", seen);
    bank_.restore(outputs, seen);
    archive.read("dropout_rng", dropout_rng);
    net_->set_dropout_state(dropout_rng.to(torch::kCPU));
    archive.read("rng", rng);
    archive.read("order", order);
    archive.read("best_state", best_state);
    rng = rng.to(torch::kCPU), order = order.to(torch::kCPU).contiguous();
    progress.order_rng = as_uint64(rng[0].item<int64_t>());
    progress.augment_rng = as_uint64(rng[1].item<int64_t>());
    progress.order.assign(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + order.numel());
    progress.best_state = tensor_bytes(best_state);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw unreadable(file, torch_error_line(e));
  }
  progress.epoch = static_cast<int>(number(kEpoch));
  progress.best_map = number(kBestMap);
  progress.best_epoch = static_cast<int>(number(kBestEpoch));
  progress.seconds = number(kSeconds);
  progress.selection_seconds = number(kSelection);
  return progress;
}

}  // namespace hamster
