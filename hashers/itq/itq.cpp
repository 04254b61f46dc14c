// ITQ, iterative quantization (Gong & Lazebnik, CVPR 2011; TPAMI 2013): PCA of the
// centred pixels to `bits` directions, then the rotation of that projection that loses
// least to the sign (rotation.h). Unsupervised and without a network: the learned linear
// baseline that sits between LSH and the deep hashers.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "framework/error.h"
#include "framework/hasher.h"
#include "framework/npy.h"
#include "hashers/itq/rotation.h"
#include "hashers/pixel_projection.h"

namespace hamster {
namespace {

// Training rows are centred and accumulated this many at a time, so the covariance of
// 60,000 images never needs them all in double precision at once.
constexpr int64_t kChunk = 2048;

class Itq final : public Hasher {
 public:
  Itq(const Params& p, int bits) : bits_(bits), iterations_(p.get_int("iterations")) {
    if (bits < 1) throw Error("itq: bits must be >= 1, got " + std::to_string(bits));
    if (iterations_ < 0)
      throw Error("itq: iterations must be >= 0, got " + std::to_string(iterations_));
  }

  void fit(const Dataset& data, const std::vector<int64_t>& ids, const FitContext& ctx) override {
    if (ids.empty()) throw Error("itq: needs at least one training item");
    const int64_t d = data.image_bytes();
    if (bits_ > d)
      throw Error(fmt::format(
          "itq: {} bits need {} PCA directions, but {} images have only {} pixel values; "
          "use at most {} bits",
          bits_, bits_, data.name, d, d));
    const auto t0 = std::chrono::steady_clock::now();
    const auto n = static_cast<int64_t>(ids.size());
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(d);
    for (int64_t id : ids)
      for (int64_t p = 0; p < d; ++p) mean(p) += data.image(id)[p];
    mean /= static_cast<double>(n);

    Eigen::MatrixXd covariance = Eigen::MatrixXd::Zero(d, d);
    for (int64_t begin = 0; begin < n; begin += kChunk) {
      const Eigen::MatrixXd x = centred(data, ids, begin, std::min(n, begin + kChunk), mean);
      covariance.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
    }
    covariance = covariance.selfadjointView<Eigen::Lower>();
    covariance /= static_cast<double>(n);
    const Eigen::MatrixXd directions = top_principal_directions(covariance, bits_);

    Eigen::MatrixXd projected(n, bits_);
    for (int64_t begin = 0; begin < n; begin += kChunk) {
      const int64_t end = std::min(n, begin + kChunk);
      projected.middleRows(begin, end - begin) = centred(data, ids, begin, end, mean) * directions;
    }
    std::vector<double> losses;
    const Eigen::MatrixXd rotation = itq_rotation(projected, iterations_, ctx.seed, &losses);
    set_model(mean.cast<float>(), directions.cast<float>(), rotation.cast<float>());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The loss per item and bit is the quantization error the run's records report.
    const double per_value = static_cast<double>(n) * bits_;
    ctx.print(fmt::format(
        "itq: {} items, PCA {} -> {} dimensions, {} iterations: quantization loss per bit "
        "{:.4f} -> {:.4f} ({:.1f}s)",
        n, d, bits_, iterations_, losses.front() / per_value, losses.back() / per_value, seconds));
  }

  Encoded encode(const Dataset& data, const std::vector<int64_t>& ids, int) const override {
    return encode_projected_pixels("itq", data, ids, mean_, projection_);
  }

  void save(const std::filesystem::path& dir) const override {
    save_embedding(dir / "mean.npy", mean_);
    save_embedding(dir / "pca.npy", pca_);
    save_embedding(dir / "rotation.npy", rotation_);
  }

  void load(const std::filesystem::path& dir) override {
    const Embedding mean = load_part(dir / "mean.npy");
    const Embedding pca = load_part(dir / "pca.npy");
    const Embedding rotation = load_part(dir / "rotation.npy");
    expect_shape(dir / "rotation.npy", rotation, bits_, bits_, "a rotation of the codes");
    expect_shape(dir / "pca.npy", pca, pca.rows(), bits_, "one PCA direction per bit");
    expect_shape(dir / "mean.npy", mean, 1, pca.rows(), "one value per pixel");
    expect_orthonormal(dir / "pca.npy", pca);
    expect_orthonormal(dir / "rotation.npy", rotation);
    set_model(mean, pca, rotation);
  }

  int bits() const override { return bits_; }

 private:
  // Rows [begin, end) of data[ids], centred and scaled to [-1, 1] like encode's features.
  static Eigen::MatrixXd centred(const Dataset& data, const std::vector<int64_t>& ids,
                                 int64_t begin, int64_t end, const Eigen::RowVectorXd& mean) {
    const int64_t d = data.image_bytes();
    Eigen::MatrixXd x(end - begin, d);
    for (int64_t i = begin; i < end; ++i)
      for (int64_t p = 0; p < d; ++p) x(i - begin, p) = (data.image(ids[i])[p] - mean(p)) / 255.0;
    return x;
  }

  // Fit and load both go through here, so a saved and reloaded model multiplies the very
  // same float matrices and gives bit-identical codes.
  void set_model(Embedding mean, Embedding pca, Embedding rotation) {
    mean_ = std::move(mean);
    pca_ = std::move(pca);
    rotation_ = std::move(rotation);
    projection_ = pca_ * rotation_;
  }

  static Embedding load_part(const std::filesystem::path& file) {
    Embedding m;
    try {
      m = load_embedding(file);
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + "; rerun with --force");
    }
    if (!m.allFinite())
      throw Error(file.string() + ": holds NaN or infinite values; rerun with --force");
    return m;
  }

  void expect_shape(const std::filesystem::path& file, const Embedding& m, int64_t rows,
                    int64_t cols, const char* what) const {
    if (m.rows() != rows || m.cols() != cols || m.size() == 0)
      throw Error(
          fmt::format("{}: shape {}x{}, expected {}x{} ({} of a {}-bit model); rerun "
                      "with --force",
                      file.string(), m.rows(), m.cols(), rows, cols, what, bits_));
  }

  // PCA directions and the rotation have orthonormal columns; anything else is damage
  // that would skew every code without failing.
  static void expect_orthonormal(const std::filesystem::path& file, const Embedding& m) {
    const Eigen::MatrixXf gram = m.transpose() * m;
    const float off = (gram - Eigen::MatrixXf::Identity(m.cols(), m.cols())).cwiseAbs().maxCoeff();
    if (!(off < 1e-3f))
      throw Error(fmt::format(
          "{}: columns are not orthonormal (|M^T M - I| up to {:.3g}); rerun with --force",
          file.string(), off));
  }

  int bits_;
  int iterations_;
  Embedding mean_, pca_, rotation_;  // 1 x D pixel means, D x bits, bits x bits
  Embedding projection_;             // pca_ * rotation_
};

const RegisterHasher kRegisterItq(
    "itq",
    "Iterative quantization: PCA of the pixels to `bits` directions, rotated to lose least to "
    "the sign (Gong & Lazebnik 2011; no labels)",
    {{"iterations", "50",
      "rounds of B = sign(VR) and the Procrustes update of R (the paper's 50; 0 gives PCA "
      "with a random rotation)"}},
    [](const Params& p, int bits) { return std::make_unique<Itq>(p, bits); });

}  // namespace
}  // namespace hamster
