// DSH: Deep Supervised Hashing (Liu, Wang, Shan, Chen, CVPR 2016).
// Contrastive loss on relaxed (real-valued) codes b:
//   similar pair:     1/2 ||b_i - b_j||^2
//   dissimilar pair:  1/2 max(m - ||b_i - b_j||^2, 0),   m = margin_scale * bits
// plus alpha * || |b| - 1 ||_1, which pulls the linear outputs toward +-1 (the paper's
// choice; a saturating tanh output trains markedly worse codes with this loss). Pairs are formed
// inside each mini-batch and, with memory_bank, also against the latest outputs of every training
// item.
#include "hashers/torch_hasher.h"

namespace hamster {
namespace {

class Dsh final : public DeepHasher {
 public:
  Dsh(const Params& p, int bits)
      : DeepHasher(p, bits),
        alpha_(p.get_double("alpha")),
        margin_(p.get_double("margin_scale") * bits),
        memory_bank_(p.get_bool("memory_bank")) {}

 private:
  std::string method() const override { return "dsh"; }

  torch::Tensor loss(const Batch& batch) override {
    const torch::Tensor& u = batch.u;
    const Partners partner = partners(batch, memory_bank_);
    const torch::Tensor& others = partner.u;
    // Squared distances expanded by hand: cdist's sqrt has no gradient at distance 0,
    // which every item has to its own bank entry.
    torch::Tensor dist =
        (u.pow(2).sum(1, true) + others.pow(2).sum(1).unsqueeze(0) - 2 * u.matmul(others.t()))
            .clamp_min(0);
    torch::Tensor similar = label_similarity(batch.labels, partner.labels);
    torch::Tensor pair = 0.5 * similar * dist + 0.5 * (1 - similar) * (margin_ - dist).clamp_min(0);
    // The paper's regulariser is a sum over bits per item (an L1 norm), not a mean: its
    // weight against the pair term then does not change with the code length.
    return pair.mean() + alpha_ * (u.abs() - 1).abs().sum(1).mean();
  }

  double alpha_, margin_;
  bool memory_bank_;
};

std::vector<ParamSpec> dsh_params() {
  auto specs = deep_hasher_params();
  specs.push_back(
      {"alpha", "0.01", "weight of the || |b| - 1 ||_1 regulariser (the paper's 0.01)"});
  specs.push_back({"margin_scale", "2", "margin m = margin_scale * bits"});
  specs.push_back({"memory_bank", "true",
                   "also pair each batch with the latest outputs of the whole training set"});
  return specs;
}

const RegisterHasher kRegisterDsh(
    "dsh", "Deep Supervised Hashing (Liu et al., CVPR 2016): contrastive loss, linear output",
    dsh_params(), [](const Params& p, int bits) { return std::make_unique<Dsh>(p, bits); });

}  // namespace
}  // namespace hamster
