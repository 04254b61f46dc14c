// DPSH: Deep Pairwise-Supervised Hashing (Li, Wang, Kang, IJCAI 2016).
// Pairwise likelihood of the labels' similarities from the real outputs u (Theta_ij =
// 1/2 u_i^T u_j), plus eta || b_i - u_i ||^2 with b_i = sign(u_i), on a linear output.
// Normalisation: the pair term is the MEAN over the pairs a batch forms and the
// quantization term the mean over the batch's items of a sum over bits, so eta weighs
// one item's quantization error against one pair's loss whatever the batch and bank sizes
// (the paper sums both; its reference code divides both by batch x N, so that code's
// lambda = 10 is eta = 10 / N here: 0.002 for N = 5,000).
// With memory_bank, each batch item is paired with the latest output of every training
// item seen so far (the reference code's U), the bank side held fixed as in that code.
#include <fmt/format.h>

#include "framework/error.h"
#include "hashers/dpsh/dpsh_loss.h"
#include "hashers/torch_hasher.h"

namespace hamster {
namespace {

class Dpsh final : public DeepHasher {
 public:
  Dpsh(const Params& p, int bits)
      : DeepHasher(p, bits), eta_(p.get_double("eta")), memory_bank_(p.get_bool("memory_bank")) {
    if (eta_ < 0) throw Error(fmt::format("dpsh.eta must be >= 0, got {}", eta_));
  }

 private:
  std::string method() const override { return "dpsh"; }

  torch::Tensor loss(const Batch& batch) override {
    const Partners others = partners(batch, memory_bank_);
    torch::Tensor similar = label_similarity(batch.labels, others.labels);
    return pairwise_likelihood_loss(batch.u, others.u, similar) +
           eta_ * quantization_loss(batch.u, binary_sign(batch.u));
  }

  double eta_;
  bool memory_bank_;
};

std::vector<ParamSpec> dpsh_params() {
  auto specs = deep_hasher_params();
  // 0.002: the reference code's lambda = 10 for N = 5,000 training items (see the top).
  // 0.1 with the memory bank collapsed the codes on fmnist-1 (validation mAP 0.32 to 0.44).
  specs.push_back({"eta", "0.002",
                   "weight of the quantization term || sign(u) - u ||^2 (per item, against the "
                   "mean pair loss; the reference code's lambda = 10 at 5,000 training items)"});
  specs.push_back({"memory_bank", "true",
                   "also pair each batch with the latest outputs of the whole training set"});
  return specs;
}

const RegisterHasher kRegisterDpsh(
    "dpsh",
    "Deep Pairwise-Supervised Hashing (Li et al., IJCAI 2016): pairwise likelihood, linear output",
    dpsh_params(), [](const Params& p, int bits) { return std::make_unique<Dpsh>(p, bits); });

}  // namespace
}  // namespace hamster
