#pragma once
// Gram matrices through the system BLAS: every cosine between the rows of a small set (a
// query's universe, a block of the graph). Eigen's own product is compiled for the baseline
// x86-64 instruction set; Debian's OpenBLAS picks AVX2/AVX-512 kernels at run time, about 4x
// faster here, and ssyrk computes only one triangle.
#include <Eigen/Dense>

namespace hamster {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Makes OpenBLAS (when it is the BLAS loaded) run single-threaded. Callers parallelise
// around their BLAS calls (TBB, LibTorch), and Debian's pthread OpenBLAS keeps one worker per
// core busy-waiting between calls, which steals the second core: measured with
// bench_training, two trainings side by side went from 1.3x to 1.96x one training.
void keep_blas_single_threaded();

// out = x x^T, exactly symmetric; out keeps its storage when its size is unchanged. BLAS runs
// single-threaded: callers parallelise around it.
void gram(const RowMatrix& x, RowMatrix& out);

// out = a b^T (every cosine between a's rows and b's, for unit rows).
void cross_products(const RowMatrix& a, const RowMatrix& b, RowMatrix& out);

}  // namespace hamster
