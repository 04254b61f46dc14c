// HashNet (Cao, Long, Wang, Yu, ICCV 2017): weighted pairwise cross-entropy on tanh(beta h)
// outputs, where the similar pairs (rare: about one in ten with ten classes) are weighted up
// so that both kinds count alike, and beta grows during training (continuation), so that
// tanh(beta h) tends toward sign(h). Pairs are formed inside each mini-batch (the paper) or,
// with memory_bank, against the latest outputs of every training item.
#include <cmath>

#include "framework/error.h"
#include "hashers/hashnet/hashnet_loss.h"
#include "hashers/torch_hasher.h"

namespace hamster {

double hashnet_beta(int64_t iterations, double gamma, double power) {
  return std::pow(1.0 + gamma * static_cast<double>(iterations), power);
}

torch::Tensor hashnet_pair_weights(const torch::Tensor& similar, const torch::Tensor& valid) {
  torch::Tensor s1 = (similar * valid).sum(), s0 = ((1 - similar) * valid).sum();
  // A count is 0 or >= 1: clamping only avoids 0/0 where no pair of that kind is weighted.
  torch::Tensor w1 = (s1 + s0) / s1.clamp_min(1), w0 = (s1 + s0) / s0.clamp_min(1);
  return valid * (similar * w1 + (1 - similar) * w0);
}

torch::Tensor hashnet_loss(const torch::Tensor& z, const torch::Tensor& others,
                           const torch::Tensor& similar, const torch::Tensor& valid, double alpha) {
  torch::Tensor theta = alpha * z.matmul(others.t());
  // softplus is log(1 + exp(theta)) without overflow (the authors' code switches to theta
  // itself above 15 for the same reason).
  torch::Tensor pair = torch::nn::functional::softplus(theta) - similar * theta;
  return (hashnet_pair_weights(similar, valid) * pair).sum() / valid.sum().clamp_min(1);
}

namespace {

class HashNet final : public DeepHasher {
 public:
  HashNet(const Params& p, int bits)
      : DeepHasher(p, bits),
        alpha_(p.get_double("alpha_scale") / bits),
        gamma_(p.get_double("gamma")),
        power_(p.get_double("power")),
        memory_bank_(p.get_bool("memory_bank")) {
    if (alpha_ <= 0)
      throw Error("hashnet.alpha_scale must be > 0, got " + p.get_string("alpha_scale"));
    if (gamma_ < 0) throw Error("hashnet.gamma must be >= 0, got " + p.get_string("gamma"));
    if (power_ < 0) throw Error("hashnet.power must be >= 0, got " + p.get_string("power"));
  }

 private:
  std::string method() const override { return "hashnet"; }

  void begin_fit(const TrainingSet& set) override {
    (void)set;
    iterations_ = 0;
    beta_ = 1;
  }

  // The authors' code raises beta every 200 iterations; here at the start of each epoch,
  // from the iterations done so far, so an epoch sees one activation throughout.
  void begin_epoch(int epoch, int epochs) override {
    (void)epoch, (void)epochs;
    beta_ = hashnet_beta(iterations_, gamma_, power_);
  }

  torch::Tensor activate(const torch::Tensor& h) const override { return torch::tanh(beta_ * h); }

  torch::Tensor loss(const Batch& batch) override {
    ++iterations_;
    const Partners others = partners(batch, memory_bank_);
    // An item paired with itself says nothing about similarity: leave those pairs out.
    torch::Tensor valid =
        batch.index.unsqueeze(1).ne(others.index.unsqueeze(0)).to(batch.u.dtype());
    return hashnet_loss(batch.u, others.u, label_similarity(batch.labels, others.labels), valid,
                        alpha_);
  }

  // beta decides the real-valued output that encode() reports beside the codes; the
  // iteration count sets the next beta when a stopped fit resumes.
  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("beta", torch::tensor(beta_, torch::kDouble));
    archive.write("iterations", torch::tensor(iterations_, torch::kInt64));
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    torch::Tensor beta, iterations;
    if (archive.try_read("beta", beta)) beta_ = beta.item<double>();
    if (archive.try_read("iterations", iterations)) iterations_ = iterations.item<int64_t>();
  }

  double alpha_, gamma_, power_;
  bool memory_bank_;
  int64_t iterations_ = 0;
  double beta_ = 1;
};

std::vector<ParamSpec> hashnet_params() {
  auto specs = deep_hasher_params();
  specs.push_back(
      {"alpha_scale", "10",
       "Theta = alpha <z_i, z_j> with alpha = alpha_scale / bits (the authors' 10/bits)"});
  specs.push_back({"gamma", "0.005", "beta = (1 + gamma * iterations)^power (the authors' 0.005)"});
  specs.push_back({"power", "0.5", "beta = (1 + gamma * iterations)^power (the authors' 0.5)"});
  specs.push_back({"memory_bank", "false",
                   "pair each batch with the latest outputs of the whole training set instead of "
                   "only with itself (the paper pairs within mini-batches)"});
  return specs;
}

const RegisterHasher kRegisterHashNet(
    "hashnet",
    "HashNet (Cao et al., ICCV 2017): weighted pairwise cross-entropy, tanh(beta h) with beta "
    "raised during training",
    hashnet_params(), [](const Params& p, int bits) { return std::make_unique<HashNet>(p, bits); });

}  // namespace
}  // namespace hamster
