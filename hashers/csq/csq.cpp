// CSQ: Central Similarity Quantization (Yuan, Wang, Zhang, Tay, Jie, Liu, Feng, CVPR 2020).
// Each class gets a fixed hash centre, far from the others in Hamming space (rows of a
// Hadamard matrix); every item's tanh output is pulled toward its centre with a binary
// cross-entropy per bit, plus a small quantisation term. No pairs: the loss is linear in the
// batch, and the centres are drawn before training and kept with the model.
#include "framework/error.h"
#include "hashers/csq/csq_loss.h"
#include "hashers/hash_centres.h"
#include "hashers/torch_hasher.h"

namespace hamster {

torch::Tensor csq_item_centres(const torch::Tensor& labels, const torch::Tensor& centres,
                               const torch::Tensor& tie_break) {
  // The sign of the sum is the sign of the mean; sums of +-1 entries are exact integers, so
  // a tie is an exact 0.
  torch::Tensor sum = labels.matmul(centres);
  return torch::where(sum == 0, tie_break.expand_as(sum), sum.sign());
}

torch::Tensor csq_loss(const torch::Tensor& u, const torch::Tensor& centres, double lambda) {
  torch::Tensor central = torch::binary_cross_entropy((u + 1) / 2, (centres + 1) / 2);
  torch::Tensor quantisation = (u.abs() - 1).pow(2).mean();
  return central + lambda * quantisation;
}

namespace {

class Csq final : public DeepHasher {
 public:
  Csq(const Params& p, int bits) : DeepHasher(p, bits), lambda_(p.get_double("lambda")) {
    if (lambda_ < 0) throw Error("csq.lambda must be >= 0, got " + p.get_string("lambda"));
  }

 private:
  std::string method() const override { return "csq"; }

  void begin_fit(const TrainingSet& set) override {
    // Its own stream, apart from the network's initialisation drawn from the same seed.
    const uint64_t seed = set.seed ^ 0xc5c3e47e5ull;
    centres_ = hash_centres(static_cast<int>(set.labels.size(1)), bits_, seed).to(set.device);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
    tie_break_ = (torch::randint(0, 2, {bits_}, gen, torch::kFloat) * 2 - 1).to(set.device);
  }

  torch::Tensor activate(const torch::Tensor& h) const override { return torch::tanh(h); }

  torch::Tensor loss(const Batch& batch) override {
    return csq_loss(batch.u, csq_item_centres(batch.labels, centres_, tie_break_), lambda_);
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    if (!centres_.defined()) return;
    archive.write("centres", centres_.cpu());
    archive.write("tie_break", tie_break_.cpu());
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    archive.try_read("centres", centres_);
    archive.try_read("tie_break", tie_break_);
  }

  double lambda_;
  torch::Tensor centres_, tie_break_;
};

std::vector<ParamSpec> csq_params() {
  auto specs = deep_hasher_params();
  specs.push_back({"lambda", "0.0001",
                   "weight of the quantisation term mean (|u| - 1)^2 (the paper's 1e-4, as in "
                   "DeepHash-pytorch's CSQ; the authors' repository uses 0.05)"});
  return specs;
}

const RegisterHasher kRegisterCsq(
    "csq",
    "Central Similarity Quantization (Yuan et al., CVPR 2020): tanh outputs pulled toward "
    "Hadamard hash centres of their classes",
    csq_params(), [](const Params& p, int bits) { return std::make_unique<Csq>(p, bits); });

}  // namespace
}  // namespace hamster
