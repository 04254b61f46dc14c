#pragma once
// An exponential moving average of a network's weights (Polyak averaging). Training
// updates the live weights; evaluation and the saved model may use the average instead,
// which follows the same trajectory with the step-to-step noise smoothed out.
#include <torch/torch.h>

#include <vector>

namespace hamster {

class WeightAverage {
 public:
  // Starts from `net`'s current parameters and floating-point buffers (BatchNorm's
  // running statistics). decay in [0, 1).
  WeightAverage(torch::nn::Module& net, double decay);

  // Throws unless decay is in [0, 1) (also for checking a configuration before a fit).
  static void check_decay(double decay);

  // After each optimiser step: average = d average + (1 - d) live, with
  // d = min(decay, (1 + t) / (10 + t)) at the t-th update (t from 0), so the first
  // steps do not keep the random initialisation in the average for long. The bound is
  // below 0.999 until t = 8,991: in shorter fits it alone sets d, and the average's
  // weights are then t / 10 steps old on average, whatever the decay from 0.999 up.
  void update();

  // Exchanges the live weights and the average inside the network; a second call
  // exchanges them back.
  void swap();

  int64_t updates() const { return updates_; }

  // The averages and the update count, for a fit's checkpoint; load() expects an average
  // of the same network.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  std::vector<torch::Tensor> live_;     // the network's own tensors
  std::vector<torch::Tensor> average_;  // their averages, same order
  double decay_;
  int64_t updates_ = 0;
};

}  // namespace hamster
