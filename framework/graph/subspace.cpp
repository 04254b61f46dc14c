#include "framework/graph/subspace.h"

#ifdef HAMSTER_HAVE_CBLAS
#include <cblas.h>
#endif
#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>
#include <vector>

#include "framework/error.h"
#include "framework/graph/gram.h"
#include "framework/graph/panel_product.h"

namespace hamster {
namespace {

// A block of b vectors of length n, one per row (row-major b x n), so that each vector is
// contiguous and the dense products are plain BLAS calls on it.
using Block = RowMatrix;
using MatrixD = Eigen::MatrixXd;

// The columns [begin, end) of the n-long vectors, split in chunks for the two (or more)
// cores: BLAS runs single-threaded (gram.h), so the products are parallelised here.
template <class Fn>
void for_chunks(int64_t n, Fn&& fn) {
  constexpr int64_t kChunk = 4096;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, kChunk),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}

// The sum over chunks of columns [begin, end) of part(begin, end, out): a rows x cols
// product split so both cores work (BLAS runs single-threaded, gram.h), summed in double.
template <class Part>
MatrixD summed_over_chunks(int rows, int cols, int64_t n, Part&& part) {
  keep_blas_single_threaded();
  constexpr int64_t kChunk = 16384;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<RowMatrix> parts(chunks, RowMatrix::Zero(rows, cols));
  tbb::parallel_for(int64_t{0}, chunks,
                    [&](int64_t i) { part(i * kChunk, std::min(n, (i + 1) * kChunk), parts[i]); });
  MatrixD sum = MatrixD::Zero(rows, cols);
  for (const RowMatrix& p : parts) sum += p.cast<double>();
  return sum;
}

// a a^T over a's rows (b x b).
MatrixD gram_of(const Block& a) {
  const int b = static_cast<int>(a.rows());
  const int n = static_cast<int>(a.cols());
  const MatrixD lower =
      summed_over_chunks(b, b, n, [&](int64_t begin, int64_t end, RowMatrix& out) {
#ifdef HAMSTER_HAVE_CBLAS
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, b, static_cast<int>(end - begin), 1.0f,
                    a.data() + begin, n, 0.0f, out.data(), b);
#else
        out.triangularView<Eigen::Lower>() =
            a.middleCols(begin, end - begin) * a.middleCols(begin, end - begin).transpose();
#endif
      });
  return lower.selfadjointView<Eigen::Lower>();
}

// a c^T (a.rows() x c.rows()).
MatrixD cross_of(const Block& a, const Block& c) {
  const int rows = static_cast<int>(a.rows()), cols = static_cast<int>(c.rows());
  const int n = static_cast<int>(a.cols());
  return summed_over_chunks(rows, cols, n, [&](int64_t begin, int64_t end, RowMatrix& out) {
#ifdef HAMSTER_HAVE_CBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, static_cast<int>(end - begin),
                1.0f, a.data() + begin, n, c.data() + begin, n, 0.0f, out.data(), cols);
#else
    out.noalias() = a.middleCols(begin, end - begin) * c.middleCols(begin, end - begin).transpose();
#endif
  });
}

// out = m a (overwrite) or out -= m a (subtract): rows of out are combinations of a's rows
// (m is k x b).
void combine(const RowMatrix& m, const Block& a, Block& out, bool subtract = false) {
  keep_blas_single_threaded();
  const int k = static_cast<int>(m.rows()), b = static_cast<int>(m.cols());
  const int64_t n = a.cols();
  if (!subtract) out.resize(k, n);
  for_chunks(n, [&](int64_t begin, int64_t end) {
#ifdef HAMSTER_HAVE_CBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, static_cast<int>(end - begin), b,
                subtract ? -1.0f : 1.0f, m.data(), b, a.data() + begin, static_cast<int>(n),
                subtract ? 1.0f : 0.0f, out.data() + begin, static_cast<int>(n));
#else
    if (subtract)
      out.middleCols(begin, end - begin).noalias() -= m * a.middleCols(begin, end - begin);
    else
      out.middleCols(begin, end - begin).noalias() = m * a.middleCols(begin, end - begin);
#endif
  });
}

// x minus its components along the rows of `locked` (orthonormal up to rounding).
void project_out(const Block& locked, Block& x) {
  if (locked.rows() == 0) return;
  const RowMatrix along = cross_of(x, locked).cast<float>();
  combine(along, locked, x, /*subtract=*/true);
}

// Reverse Cuthill-McKee: a breadth-first order from a node of least degree, neighbours by
// increasing degree, reversed. Neighbours end up close in the order, so S's product reads
// panel rows that are mostly in cache (about 2.5x faster on the 69,000-node kNN graph).
std::vector<int64_t> cuthill_mckee_order(const SparseMatrix& s) {
  const int64_t n = s.rows();
  std::vector<int64_t> degree(n);
  for (int64_t i = 0; i < n; ++i) degree[i] = s.outerIndexPtr()[i + 1] - s.outerIndexPtr()[i];
  std::vector<int64_t> by_degree(n);
  std::iota(by_degree.begin(), by_degree.end(), 0);
  std::stable_sort(by_degree.begin(), by_degree.end(),
                   [&](int64_t a, int64_t b) { return degree[a] < degree[b]; });
  std::vector<char> seen(n, 0);
  std::vector<int64_t> order;
  order.reserve(n);
  std::vector<int64_t> next;
  for (const int64_t start : by_degree) {  // one breadth-first pass per connected component
    if (seen[start]) continue;
    seen[start] = 1;
    size_t head = order.size();
    order.push_back(start);
    while (head < order.size()) {
      const int64_t u = order[head++];
      next.clear();
      for (SparseMatrix::InnerIterator it(s, u); it; ++it)
        if (!seen[it.col()]) {
          seen[it.col()] = 1;
          next.push_back(it.col());
        }
      std::stable_sort(next.begin(), next.end(),
                       [&](int64_t a, int64_t b) { return degree[a] < degree[b]; });
      order.insert(order.end(), next.begin(), next.end());
    }
  }
  std::reverse(order.begin(), order.end());
  return order;
}

// P S P^T for the order (row i of the result is row order[i] of s).
SparseMatrix permuted(const SparseMatrix& s, const std::vector<int64_t>& order) {
  const int64_t n = s.rows();
  std::vector<int64_t> position(n);
  for (int64_t i = 0; i < n; ++i) position[order[i]] = i;
  std::vector<Eigen::Triplet<float, int64_t>> entries;
  entries.reserve(s.nonZeros());
  for (int64_t i = 0; i < n; ++i)
    for (SparseMatrix::InnerIterator it(s, order[i]); it; ++it)
      entries.emplace_back(i, position[it.col()], it.value());
  SparseMatrix out(n, n);
  out.setFromTriplets(entries.begin(), entries.end());
  out.makeCompressed();
  return out;
}

// Row by row in parallel: fn(row index).
template <class Fn>
void for_rows(const Block& m, Fn&& fn) {
  tbb::parallel_for(int64_t{0}, static_cast<int64_t>(m.rows()), fn);
}

// Every block row scaled to unit norm (a zero row stays zero).
void normalise_rows(Block& m) {
  for_rows(m, [&](int64_t r) {
    const float norm = m.row(r).norm();
    if (norm > 0) m.row(r) /= norm;
  });
}

// Gershgorin: every eigenvalue of s lies in [lo, hi].
std::pair<double, double> spectrum_bounds(const SparseMatrix& s) {
  double lo = 0, hi = 0;
  for (int64_t i = 0; i < s.rows(); ++i) {
    double diagonal = 0, off = 0;
    for (SparseMatrix::InnerIterator it(s, i); it; ++it) {
      if (it.col() == i)
        diagonal += it.value();
      else
        off += std::abs(it.value());
    }
    lo = std::min(lo, diagonal - off);
    hi = std::max(hi, diagonal + off);
  }
  return {lo, hi};
}

void fill_random(Block& m, std::mt19937_64& rng, int64_t first_row) {
  std::normal_distribution<float> normal;
  for (int64_t r = first_row; r < m.rows(); ++r)
    for (int64_t i = 0; i < m.cols(); ++i) m(r, i) = normal(rng);
}

void fix_signs(Eigen::MatrixXf& vectors) {
  for (int64_t c = 0; c < vectors.cols(); ++c) {
    Eigen::Index largest = 0;
    vectors.col(c).cwiseAbs().maxCoeff(&largest);
    if (vectors(largest, c) < 0) vectors.col(c) *= -1;
  }
}

// Every eigenpair of a small s at once (dense, double), the top `rank` kept.
Eigenpairs dense_eigenpairs(const SparseMatrix& s, int rank, SubspaceReport* report) {
  const MatrixD d = MatrixD(s.cast<double>());
  Eigen::SelfAdjointEigenSolver<MatrixD> solver(d);
  const int64_t n = d.rows();
  Eigenpairs out;
  out.values = solver.eigenvalues().tail(rank).reverse().cast<float>();
  out.vectors = solver.eigenvectors().rightCols(rank).rowwise().reverse().cast<float>();
  fix_signs(out.vectors);
  const MatrixD v = out.vectors.cast<double>();
  out.residual_max = static_cast<float>(
      (d * v - v * out.values.cast<double>().asDiagonal()).colwise().norm().maxCoeff());
  if (report) *report = {0, static_cast<int>(n), out.residual_max, 8.0 * n * n / (1 << 20)};
  return out;
}

}  // namespace

Eigenpairs subspace_eigenpairs(const SparseMatrix& s, int rank, const SubspaceOptions& o,
                               SubspaceReport* report) {
  const int64_t n = s.rows();
  const auto where = [&] { return fmt::format("(rank = {}, n = {})", rank, n); };
  if (s.cols() != n) throw Error(fmt::format("subspace_eigenpairs: S is {} x {}", n, s.cols()));
  if (rank < 1 || rank >= n)
    throw Error(
        fmt::format("subspace_eigenpairs: rank = {} must be in [1, n) with n = {}", rank, n));
  if (o.degree < 1 || o.max_passes < 1 || !(o.tol > 0) || o.guard < 0)
    throw Error(fmt::format(
        "subspace_eigenpairs: degree ({}), max_passes ({}) and tol ({}) must be positive, guard "
        "({}) >= 0",
        o.degree, o.max_passes, o.tol, o.guard));
  // The guard must reach past the cluster of eigenvalues around the rank-th one, or the
  // Ritz vectors stay mixtures of it: the mutual kNN graph of 69,000 raw Fashion-MNIST
  // images has over 200 eigenvalues within about 1e-4 of 1, and rank 100 stalled at a
  // residual of 2.5e-4 with 200 guard vectors; 300 converged in 6 passes (8.5 s).
  const int b =
      static_cast<int>(std::min<int64_t>(n, rank + (o.guard ? o.guard : std::max(300, rank / 4))));
  if (3 * static_cast<int64_t>(b) > n) {
    // A block of a third of the space or more is no subspace to iterate in: small graphs
    // (tests, toy databases) get a dense solve instead.
    if (n > 20000)
      throw Error(fmt::format(
          "subspace_eigenpairs: rank {} is too close to n = {} for a subspace of rank + guard "
          "vectors (solver lanczos takes any rank < n)",
          rank, n));
    return dense_eigenpairs(s, rank, report);
  }
  const std::vector<int64_t> order = cuthill_mckee_order(s);
  double gershgorin_lo = 0, hi = 0;
  CompactRows rows;
  {
    const SparseMatrix s_ordered = permuted(s, order);
    std::tie(gershgorin_lo, hi) = spectrum_bounds(s_ordered);
    rows = compact(s_ordered);
  }
  const double lo = std::isnan(o.lower_bound) ? gershgorin_lo : o.lower_bound;

  std::mt19937_64 rng(o.seed);
  // Locking (Zhou & Saad's deflation): a pair whose residual reaches tol leaves the active
  // block x for `locked`, top pairs first, and is neither filtered nor rotated again; the
  // active block is kept orthogonal to it. The block shrinks as pairs converge, the guard
  // (b - rank vectors) stays, and the filter no longer has to lift the top eigenvectors
  // that a float block could carry only at the expense of the slow ones.
  Block x(b, n), product, rotated, rotated_product;
  Block locked(0, n);
  std::vector<double> locked_values;
  float locked_residual_max = 0;
  fill_random(x, rng, 0);
  double cut = (lo + hi) / 2;  // no Ritz value yet: damp the lower half of the spectrum
  Eigen::VectorXd theta, previous_theta;
  float residual_max = INFINITY;  // of the unconverged pairs, until a pass checks them
  int pass = 0;
  for (; pass < o.max_passes && static_cast<int>(locked.rows()) < rank; ++pass) {
    const int active = static_cast<int>(x.rows());
    const int wanted = rank - static_cast<int>(locked.rows());  // x's leading pairs
    // From random vectors a high degree would make every vector nearly the top
    // eigenvector (T_10 grows 10^7-fold at the top of a normalised affinity's spectrum), and
    // the block would lose its rank: the first pass filters gently.
    chebyshev_filter(rows, x, pass == 0 ? std::min(o.degree, 4) : o.degree, lo, cut);
    project_out(locked, x);
    normalise_rows(x);
    // Rayleigh-Ritz on span(x) without orthonormalising x itself: with G = x x^T (Gram)
    // and H = x S x^T, the Ritz pairs solve H w = l G w. G's eigenvectors scaled by
    // 1/sqrt(eigenvalue) make a G-orthonormal basis P; directions whose eigenvalue is
    // rounding noise (the filter made some vectors nearly dependent) are dropped.
    multiply(rows, x, product);
    const MatrixD g = gram_of(x);
    const MatrixD h = cross_of(x, product);
    Eigen::SelfAdjointEigenSolver<MatrixD> gram_eigen(g);
    const Eigen::VectorXd sigma = gram_eigen.eigenvalues();  // ascending
    int drop = 0;
    while (drop < active && sigma[drop] <= 1e-6 * sigma[active - 1]) ++drop;
    const int m = active - drop;
    MatrixD p = gram_eigen.eigenvectors().rightCols(m);
    for (int j = 0; j < m; ++j) p.col(j) /= std::sqrt(sigma[drop + j]);
    const MatrixD projected = p.transpose() * (0.5 * (h + h.transpose())) * p;
    Eigen::SelfAdjointEigenSolver<MatrixD> ritz(projected);
    // Decreasing Ritz values; the coefficients of the Ritz vectors in x's rows.
    theta = ritz.eigenvalues().reverse();
    const MatrixD w = (p * ritz.eigenvectors().rowwise().reverse()).transpose();  // m x active
    const RowMatrix coefficients = w.cast<float>();
    combine(coefficients, x, rotated);
    x = std::move(rotated);
    if (m < active) {  // refill the dropped directions
      x.conservativeResize(active, n);
      fill_random(x, rng, m);
      // Random refills hold a part along the top eigenvectors, which the block has already;
      // the next filter would amplify it until it is all that is left, and the refill would
      // be dropped again (the LSH pixel graph lost 455 of 1,250 directions every pass that
      // way and never converged). So refills start orthogonal to the kept and locked vectors.
      Block fresh = x.bottomRows(active - m);
      project_out(Block(x.topRows(m)), fresh);
      project_out(locked, fresh);
      normalise_rows(fresh);
      x.bottomRows(active - m) = fresh;
    }
    // The cut: the Ritz value halfway through the guard, not the block's smallest (the
    // textbook choice), which lags below the eigenvalue it tends to while the tail is
    // unconverged. Measured at rank 1,000 on the 69,000-node graph before locking: residual
    // 2.0e-4 after 6 passes against 2.5e-4. A sharper filter (a tighter lower bound than
    // -1, a higher degree) loses the slow vectors' own part below float precision while
    // the top eigenvectors are still in the block: with lo = -0.25 the block lost most of
    // its rank every other pass. (Both measured with the earlier, faulty recurrence, which
    // subtracted T_k for T_k-1; not measured again since.)
    cut = theta[std::min(m - 1, wanted + (m - wanted) / 2)];
    if (m < wanted) {  // too few directions survived: refilled above, not converged
      previous_theta.resize(0);
      if (o.on_pass) o.on_pass(pass + 1, NAN, static_cast<int>(locked.rows()));
      continue;
    }
    // A Ritz value still moving by more than 10 tol belongs to a pair far from converged
    // (a Ritz value's error shrinks like its residual squared): residuals (an n x active x
    // checked BLAS call) are computed only for the leading pairs whose values settled, and
    // for all on the last pass.
    int checked = wanted;
    if (pass + 1 < o.max_passes) {
      checked = 0;
      if (previous_theta.size() >= wanted)
        while (checked < wanted && std::abs(theta[checked] - previous_theta[checked]) <= 10 * o.tol)
          ++checked;
    }
    previous_theta = theta;
    if (checked == 0) {
      if (o.on_pass) o.on_pass(pass + 1, NAN, static_cast<int>(locked.rows()));
      continue;
    }
    // Residuals of the checked pairs: (S u - l u) with S u from the same combination.
    combine(coefficients.topRows(checked), product, rotated_product);
    std::vector<float> residual(checked);
    tbb::parallel_for(0, checked, [&](int r) {
      residual[r] = (rotated_product.row(r) - static_cast<float>(theta[r]) * x.row(r)).norm() /
                    std::max(x.row(r).norm(), 1e-30f);
    });
    // Every checked pair within tol is locked, not only a leading run: the top pairs'
    // residuals stall near tol (they dominate the float block), and waiting for them would
    // keep the whole block in the filter. The guard's pairs are never locked, so the locked
    // pairs remain the top `rank` Ritz pairs of the block.
    std::vector<int> keep, lock;
    for (int r = 0; r < active; ++r)
      (r < checked && residual[r] <= o.tol ? lock : keep).push_back(r);
    residual_max = 0;
    for (int r = 0; r < checked; ++r)
      if (residual[r] > o.tol) residual_max = std::max(residual_max, residual[r]);
    if (checked < wanted) residual_max = INFINITY;  // some pairs were not checked
    if (!lock.empty()) {
      const int64_t before = locked.rows();
      locked.conservativeResize(before + static_cast<int64_t>(lock.size()), n);
      for (size_t t = 0; t < lock.size(); ++t) {
        locked.row(before + static_cast<int64_t>(t)) = x.row(lock[t]);
        locked_values.push_back(theta[lock[t]]);
        locked_residual_max = std::max(locked_residual_max, residual[lock[t]]);
      }
      Block rest(static_cast<int64_t>(keep.size()), n);
      Eigen::VectorXd rest_theta(static_cast<int64_t>(keep.size()));
      for (size_t t = 0; t < keep.size(); ++t) {
        rest.row(static_cast<int64_t>(t)) = x.row(keep[t]);
        rest_theta[static_cast<int64_t>(t)] = keep[t] < m ? theta[keep[t]] : 0.0;
      }
      x = std::move(rest);
      previous_theta = rest_theta;
    }
    if (o.on_pass)
      o.on_pass(pass + 1, std::max(locked_residual_max, residual_max),
                static_cast<int>(locked.rows()));
  }
  if (static_cast<int>(locked.rows()) < rank)
    throw Error(fmt::format(
        "subspace_eigenpairs: residual {:g} above tol {:g} after {} passes of degree {} {}",
        residual_max, o.tol, o.max_passes, o.degree, where()));
  // Locked in decreasing order up to rounding; sorted so that it is exact.
  std::vector<int> by_value(rank);
  std::iota(by_value.begin(), by_value.end(), 0);
  std::stable_sort(by_value.begin(), by_value.end(),
                   [&](int a, int c) { return locked_values[a] > locked_values[c]; });
  Eigenpairs out;
  out.values.resize(rank);
  out.vectors.resize(n, rank);
  for (int c = 0; c < rank; ++c) {
    out.values[c] = static_cast<float>(locked_values[by_value[c]]);
    for (int64_t i = 0; i < n; ++i) out.vectors(order[i], c) = locked(by_value[c], i);
    out.vectors.col(c).normalize();
  }
  fix_signs(out.vectors);
  out.residual_max = locked_residual_max;
  out.passes = pass;
  if (report) {
    report->passes = pass;
    report->block = b;
    report->residual_max = locked_residual_max;
    // x, its product, their rotations and the locked vectors (at most b rows each); the
    // filter's panels (n x kPanel) are small beside them.
    report->megabytes_peak = 5.0 * b * n * sizeof(float) / (1 << 20);
  }
  return out;
}

}  // namespace hamster
