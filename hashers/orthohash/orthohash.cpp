// OrthoHash (Hoe, Ng, Gu, Tang, Wang, NeurIPS 2021, "One Loss for All: Deep Hashing with a
// Single Cosine Similarity based Learning Objective"). Each class has a fixed binary code,
// pairwise orthogonal where a Hadamard matrix allows; the batch-normalised hash output is
// classified by its cosine similarity to those codes, with a margin on the true class. The
// output is linear: codes are sign(u), and maximising cos(u, c) also minimises the
// quantisation error to c, so no separate quantisation term is used (the authors' default).
#include "framework/error.h"
#include "hashers/hash_centres.h"
#include "hashers/orthohash/orthohash_loss.h"
#include "hashers/torch_hasher.h"

namespace hamster {

torch::Tensor orthohash_loss(const torch::Tensor& u, const torch::Tensor& codebook,
                             const torch::Tensor& labels, double scale, double margin) {
  namespace F = torch::nn::functional;
  torch::Tensor cosine = F::normalize(u, F::NormalizeFuncOptions().dim(1))
                             .matmul(F::normalize(codebook, F::NormalizeFuncOptions().dim(1)).t());
  torch::Tensor log_p = F::log_softmax(scale * (cosine - margin * labels), 1);
  torch::Tensor target = labels / labels.sum(1, true).clamp_min(1);
  return -(target * log_p).sum(1).mean();
}

namespace {

class OrthoHash final : public DeepHasher {
 public:
  OrthoHash(const Params& p, int bits)
      : DeepHasher(p, bits), scale_(p.get_double("scale")), margin_(p.get_double("margin")) {
    if (scale_ <= 0) throw Error("orthohash.scale must be > 0, got " + p.get_string("scale"));
    if (margin_ < 0) throw Error("orthohash.margin must be >= 0, got " + p.get_string("margin"));
  }

 private:
  std::string method() const override { return "orthohash"; }

  void begin_fit(const TrainingSet& set) override {
    const uint64_t seed = set.seed ^ 0x0a7b0ull;
    codebook_ = hash_centres(static_cast<int>(set.labels.size(1)), bits_, seed).to(set.device);
  }

  torch::Tensor loss(const Batch& batch) override {
    return orthohash_loss(batch.u, codebook_, batch.labels, scale_, margin_);
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    if (codebook_.defined()) archive.write("codebook", codebook_.cpu());
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    archive.try_read("codebook", codebook_);
  }

  double scale_, margin_;
  torch::Tensor codebook_;
};

std::vector<ParamSpec> orthohash_params() {
  auto specs = deep_hasher_params();
  specs.push_back(
      {"scale", "8", "s: the cosine similarities are multiplied by s (the authors' 8)"});
  specs.push_back(
      {"margin", "0.2", "m: subtracted from the true class's cosine (the authors' 0.2)"});
  return specs;
}

const RegisterHasher kRegisterOrthoHash(
    "orthohash",
    "OrthoHash (Hoe et al., NeurIPS 2021): cosine-similarity cross-entropy with a margin toward "
    "orthogonal class codes",
    orthohash_params(),
    [](const Params& p, int bits) { return std::make_unique<OrthoHash>(p, bits); });

}  // namespace
}  // namespace hamster
