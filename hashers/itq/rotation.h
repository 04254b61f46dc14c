#pragma once
// The two pieces of ITQ (Gong & Lazebnik, "Iterative Quantization", CVPR 2011) that need
// no images: the PCA directions of a covariance and the learned rotation. Kept apart from
// the plugin so they can be tested on small matrices.
#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace hamster {

// The eigenvectors of the symmetric `covariance` (D x D) with the `count` largest
// eigenvalues, as the columns of a D x count matrix, largest first. Throws Error if
// count is not in 1..D.
Eigen::MatrixXd top_principal_directions(const Eigen::MatrixXd& covariance, int count);

// A c x c orthogonal matrix drawn uniformly (Haar) with `seed`: the Q of the QR
// decomposition of a Gaussian matrix from the framework's Rng, its columns signed so
// that R's diagonal is positive.
Eigen::MatrixXd random_rotation(int c, uint64_t seed);

// ITQ's rotation of V (n x c, centred PCA projections): starting from random_rotation(c,
// seed), `iterations` rounds of B = sign(V R) (sign(0) = -1, as BinaryCodes), then R from
// the SVD of B^T V = S Omega S'^T as R = S' S^T (orthogonal Procrustes). When `losses` is
// given it receives the quantization loss ||sign(V R) - V R||_F^2 of the initial rotation
// and of the rotation after each round: iterations + 1 values, never increasing (each
// half-step minimises the loss over B or over R with the other fixed).
Eigen::MatrixXd itq_rotation(const Eigen::MatrixXd& V, int iterations, uint64_t seed,
                             std::vector<double>* losses = nullptr);

}  // namespace hamster
