#include "hashers/weight_average.h"

#include <fmt/format.h>

#include <algorithm>

#include "framework/error.h"

namespace hamster {

void WeightAverage::check_decay(double decay) {
  if (!(decay >= 0 && decay < 1))
    throw Error(fmt::format("weight_average must be in [0, 1), got {}", decay));
}

WeightAverage::WeightAverage(torch::nn::Module& net, double decay) : decay_(decay) {
  check_decay(decay);
  torch::NoGradGuard no_grad;
  for (const auto& p : net.parameters()) live_.push_back(p);
  // Integer buffers (BatchNorm's batch counter) are not averaged.
  for (const auto& b : net.buffers())
    if (b.is_floating_point()) live_.push_back(b);
  for (const auto& t : live_) average_.push_back(t.detach().clone());
}

void WeightAverage::update() {
  torch::NoGradGuard no_grad;
  const double t = static_cast<double>(updates_++);
  const double d = std::min(decay_, (1 + t) / (10 + t));
  for (size_t i = 0; i < live_.size(); ++i) average_[i].mul_(d).add_(live_[i].detach(), 1 - d);
}

void WeightAverage::swap() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < live_.size(); ++i) {
    torch::Tensor kept = live_[i].detach().clone();
    live_[i].detach().copy_(average_[i]);
    average_[i] = kept;
  }
}

void WeightAverage::save(torch::serialize::OutputArchive& archive) const {
  archive.write("updates", torch::tensor(updates_, torch::kInt64));
  for (size_t i = 0; i < average_.size(); ++i) archive.write(std::to_string(i), average_[i]);
}

void WeightAverage::load(torch::serialize::InputArchive& archive) {
  torch::Tensor updates;
  archive.read("updates", updates);
  updates_ = updates.item<int64_t>();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < average_.size(); ++i) {
    torch::Tensor t;
    archive.read(std::to_string(i), t);
    if (!t.sizes().equals(average_[i].sizes()))
      throw Error("weight average: tensor " + std::to_string(i) + " has the wrong shape");
    average_[i].copy_(t);
  }
}

}  // namespace hamster
