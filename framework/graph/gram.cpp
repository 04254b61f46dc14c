#include "framework/graph/gram.h"

#include <dlfcn.h>
#ifdef HAMSTER_HAVE_CBLAS
#include <cblas.h>
#endif

#include <mutex>

namespace hamster {

void keep_blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
      set(1);
  });
}

void gram(const RowMatrix& x, RowMatrix& s) {
  keep_blas_single_threaded();
  const int n = static_cast<int>(x.rows()), d = static_cast<int>(x.cols());
  s.resize(n, n);
  if (n == 0) return;
  // Row-major lower triangle of x x^T; the upper one is mirrored from it.
#ifdef HAMSTER_HAVE_CBLAS
  cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, n, d, 1.0f, x.data(), d, 0.0f, s.data(), n);
#else
  s.triangularView<Eigen::Lower>() = x * x.transpose();
#endif
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j) s(j, i) = s(i, j);
}

void cross_products(const RowMatrix& a, const RowMatrix& b, RowMatrix& out) {
  keep_blas_single_threaded();
  const int m = static_cast<int>(a.rows()), n = static_cast<int>(b.rows());
  const int d = static_cast<int>(a.cols());
  out.resize(m, n);
  if (m == 0 || n == 0) return;
#ifdef HAMSTER_HAVE_CBLAS
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, d, 1.0f, a.data(), d, b.data(), d,
              0.0f, out.data(), n);
#else
  out.noalias() = a * b.transpose();
#endif
}

}  // namespace hamster
