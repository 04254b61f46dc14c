// GreedyHash (Su, Zhang, Huang, Tian, NeurIPS 2018). The codes b = sign(h) are used as they
// are in the forward pass, feeding a linear classifier (no bias) trained with the network;
// the gradient reaching b is passed straight through to h. A cubic penalty keeps h close to
// +-1 so the straight-through step is nearly exact. The output is linear: codes are sign(h).
#include <cmath>

#include "framework/error.h"
#include "hashers/greedyhash/greedyhash_loss.h"
#include "hashers/torch_hasher.h"

namespace hamster {

torch::Tensor sign_straight_through(const torch::Tensor& h) {
  return h + (torch::sign(h) - h).detach();
}

torch::Tensor greedyhash_penalty(const torch::Tensor& h) {
  return (h.abs() - 1).pow(3).abs().mean();
}

torch::Tensor greedyhash_classification_loss(const torch::Tensor& logits,
                                             const torch::Tensor& labels, bool single_label) {
  if (single_label) return torch::nn::functional::cross_entropy(logits, labels.argmax(1));
  return torch::binary_cross_entropy_with_logits(logits, labels);
}

namespace {

class GreedyHash final : public DeepHasher {
 public:
  GreedyHash(const Params& p, int bits) : DeepHasher(p, bits), alpha_(p.get_double("alpha")) {
    if (alpha_ < 0) throw Error("greedyhash.alpha must be >= 0, got " + p.get_string("alpha"));
  }

 private:
  std::string method() const override { return "greedyhash"; }

  void begin_fit(const TrainingSet& set) override {
    // Single-label data is decided once for the whole training set, so that every batch uses
    // the same loss.
    single_label_ = set.labels.sum(1).eq(1).all().item<bool>();
    const int64_t classes = set.labels.size(1);
    // PyTorch's default range for a linear layer, from its own seeded stream.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(set.seed ^ 0x96eed7ull);
    const double bound = 1.0 / std::sqrt(static_cast<double>(bits_));
    classifier_ = torch::empty({classes, bits_})
                      .uniform_(-bound, bound, gen)
                      .to(set.device)
                      .requires_grad_(true);
  }

  std::vector<torch::Tensor> extra_parameters() override { return {classifier_}; }

  torch::Tensor loss(const Batch& batch) override {
    torch::Tensor logits = sign_straight_through(batch.u).matmul(classifier_.t());
    return greedyhash_classification_loss(logits, batch.labels, single_label_) +
           alpha_ * greedyhash_penalty(batch.u);
  }

  // Kept with the model: it predicts an item's classes from its code.
  void save_state(torch::serialize::OutputArchive& archive) const override {
    if (classifier_.defined()) archive.write("classifier", classifier_.detach().cpu());
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    torch::Tensor classifier;
    if (!archive.try_read("classifier", classifier)) return;
    torch::NoGradGuard no_grad;
    if (classifier_.defined())
      classifier_.copy_(classifier);  // model selection: the optimiser holds this tensor
    else
      classifier_ = classifier;
  }

  double alpha_;
  bool single_label_ = true;
  torch::Tensor classifier_;  // classes x bits
};

std::vector<ParamSpec> greedyhash_params() {
  auto specs = deep_hasher_params();
  specs.push_back(
      {"alpha", "0.1", "weight of the penalty mean | |h| - 1 |^3 (the authors' code: 0.1)"});
  return specs;
}

const RegisterHasher kRegisterGreedyHash(
    "greedyhash",
    "GreedyHash (Su et al., NeurIPS 2018): sign in the forward pass, straight-through gradient, "
    "a classifier on the codes",
    greedyhash_params(),
    [](const Params& p, int bits) { return std::make_unique<GreedyHash>(p, bits); });

}  // namespace
}  // namespace hamster
