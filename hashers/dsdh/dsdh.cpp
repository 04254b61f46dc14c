// DSDH: Deep Supervised Discrete Hashing (Li, Sun, He, Tan, NIPS 2017).
// The method holds a discrete code B (bits x N, in {-1, +1}) for every training item and a
// linear classifier W (bits x C) on the codes. It alternates
//   - the network, over one epoch of mini-batches, on DPSH's pairwise likelihood plus
//     eta || b_i - u_i ||^2 with b_i the item's column of B (the code held by the method,
//     not sign(u_i)); linear output;
//   - at the epoch's end, with U the latest output of every training item: the W-step
//     (ridge regression of the labels on B) and the B-step (discrete cyclic coordinate
//     descent on mu ||Y - W^T B||^2 + eta ||B - U||^2), a few sweeps, W refreshed after each.
// B does not exist before the first epoch ends: during epoch 1 the quantization target is
// sign(u_i) (DPSH's), and B starts from sign(U) at the end of epoch 1.
// Normalisation of the network loss as in DPSH (hashers/dpsh/dpsh.cpp): mean pair loss plus
// eta times the mean per-item squared distance; the discrete steps use the paper's sums.
#include <fmt/format.h>

#include "framework/error.h"
#include "hashers/dpsh/dpsh_loss.h"
#include "hashers/dsdh/dsdh_steps.h"
#include "hashers/torch_hasher.h"

namespace hamster {
namespace {

class Dsdh final : public DeepHasher {
 public:
  Dsdh(const Params& p, int bits)
      : DeepHasher(p, bits),
        mu_(p.get_double("mu")),
        nu_(p.get_double("nu")),
        eta_(p.get_double("eta")),
        sweeps_(p.get_int("dcc_sweeps")),
        memory_bank_(p.get_bool("memory_bank")) {
    if (mu_ <= 0) throw Error(fmt::format("dsdh.mu must be > 0, got {}", mu_));
    // nu > 0 keeps B B^T + (nu/mu) I invertible when B has repeated or constant rows.
    if (nu_ <= 0) throw Error(fmt::format("dsdh.nu must be > 0, got {}", nu_));
    if (eta_ < 0) throw Error(fmt::format("dsdh.eta must be >= 0, got {}", eta_));
    if (sweeps_ < 1) throw Error(fmt::format("dsdh.dcc_sweeps must be >= 1, got {}", sweeps_));
  }

 private:
  std::string method() const override { return "dsdh"; }

  void begin_fit(const TrainingSet& set) override {
    labels_ = set.labels;
    codes_ = torch::Tensor();
    classifier_ = torch::Tensor();
  }

  torch::Tensor loss(const Batch& batch) override {
    const Partners others = partners(batch, memory_bank_);
    torch::Tensor target =
        codes_.defined() ? codes_.index_select(1, batch.index).t() : binary_sign(batch.u);
    return pairwise_likelihood_loss(batch.u, others.u,
                                    label_similarity(batch.labels, others.labels)) +
           eta_ * quantization_loss(batch.u, target);
  }

  void end_epoch(int epoch, int epochs) override {
    (void)epoch, (void)epochs;
    // Double precision: the DCC decisions compare sums over thousands of items.
    const torch::Tensor u = bank().outputs().t().to(torch::kFloat64);
    const torch::Tensor y = labels_.t().to(torch::kFloat64);
    torch::Tensor b = codes_.defined() ? codes_.to(torch::kFloat64) : binary_sign(u);
    torch::Tensor w;
    for (int s = 0; s < sweeps_; ++s) {
      w = dsdh_w_step(b, y, nu_ / mu_);
      b = dsdh_b_sweep(b, w, y, u, eta_ / mu_);
    }
    // W kept with the model is the classifier of the final codes.
    classifier_ = dsdh_w_step(b, y, nu_ / mu_).to(torch::kFloat32);
    codes_ = b.to(torch::kFloat32);
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    if (!codes_.defined()) return;
    archive.write("B", codes_.cpu());
    archive.write("W", classifier_.cpu());
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    codes_ = torch::Tensor(), classifier_ = torch::Tensor();
    torch::Tensor b, w;
    if (archive.try_read("B", b) && archive.try_read("W", w)) codes_ = b, classifier_ = w;
  }

  double mu_, nu_, eta_;
  int sweeps_;
  bool memory_bank_;
  torch::Tensor labels_;      // N x C, the training items' labels (Y^T)
  torch::Tensor codes_;       // B: bits x N in {-1, +1}; undefined before the first epoch ends
  torch::Tensor classifier_;  // W: bits x C
};

std::vector<ParamSpec> dsdh_params() {
  auto specs = deep_hasher_params();
  specs.push_back({"mu", "0.01", "weight of the label regression ||Y - W^T B||^2"});
  specs.push_back({"nu", "1", "weight of the ridge penalty ||W||^2"});
  specs.push_back({"eta", "0.01",
                   "weight of the quantization term ||B - U||^2 (network: per item, against the "
                   "mean pair loss)"});
  specs.push_back(
      {"dcc_sweeps", "3", "W-step + DCC sweeps over all bits of B at each epoch's end"});
  specs.push_back({"memory_bank", "true",
                   "also pair each batch with the latest outputs of the whole training set"});
  return specs;
}

const RegisterHasher kRegisterDsdh(
    "dsdh",
    "Deep Supervised Discrete Hashing (Li et al., NIPS 2017): pairwise likelihood, discrete codes "
    "B and label regression W by DCC",
    dsdh_params(), [](const Params& p, int bits) { return std::make_unique<Dsdh>(p, bits); });

}  // namespace
}  // namespace hamster
