// LSH: signs of random Gaussian projections of the centred pixels (Charikar 2002).
// The no-training baseline: any learned hasher should beat it by a wide margin.
#include <cmath>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/hasher.h"
#include "framework/npy.h"
#include "hashers/pixel_projection.h"

namespace hamster {
namespace {

class Lsh final : public Hasher {
 public:
  Lsh(const Params&, int bits) : bits_(bits) {
    if (bits < 1) throw Error("lsh: bits must be >= 1, got " + std::to_string(bits));
  }

  void fit(const Dataset& data, const std::vector<int64_t>& ids, const FitContext& ctx) override {
    if (ids.empty()) throw Error("lsh: needs at least one training item");
    const int64_t d = data.image_bytes();
    mean_ = Embedding::Zero(1, d);
    for (int64_t id : ids)
      for (int64_t p = 0; p < d; ++p) mean_(0, p) += data.image(id)[p];
    mean_ /= static_cast<float>(ids.size());
    Rng rng(ctx.seed);
    projection_.resize(d, bits_);
    for (int64_t i = 0; i < projection_.size(); ++i)
      projection_.data()[i] = static_cast<float>(rng.normal());
  }

  Encoded encode(const Dataset& data, const std::vector<int64_t>& ids, int) const override {
    return encode_projected_pixels("lsh", data, ids, mean_, projection_);
  }

  void save(const std::filesystem::path& dir) const override {
    save_embedding(dir / "mean.npy", mean_);
    save_embedding(dir / "projection.npy", projection_);
  }
  void load(const std::filesystem::path& dir) override {
    mean_ = load_embedding(dir / "mean.npy");
    projection_ = load_embedding(dir / "projection.npy");
    if (projection_.cols() != bits_)
      throw Error((dir / "projection.npy").string() + ": has " +
                  std::to_string(projection_.cols()) + " bits, expected " + std::to_string(bits_));
    // A corrupt mean would index past the pixels or skew every code silently.
    if (mean_.rows() != 1 || mean_.cols() != projection_.rows())
      throw Error((dir / "mean.npy").string() + ": shape " + std::to_string(mean_.rows()) + "x" +
                  std::to_string(mean_.cols()) + ", expected 1x" +
                  std::to_string(projection_.rows()) +
                  " (one value per pixel); rerun with --force");
  }
  int bits() const override { return bits_; }

 private:
  int bits_;
  Embedding mean_, projection_;  // 1 x D and D x bits
};

const RegisterHasher kRegisterLsh(
    "lsh", "Locality-sensitive hashing: signs of random projections of the pixels (no training)",
    {}, [](const Params& p, int bits) { return std::make_unique<Lsh>(p, bits); });

}  // namespace
}  // namespace hamster
