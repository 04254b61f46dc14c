#pragma once
// CSQ's pieces as free functions, so each can be checked on tiny tensors: the centre of a
// (multi-label) item and the loss. The class centres come from hashers/hash_centres.h.
#include <torch/torch.h>

namespace hamster {

// The centre each item is pulled toward: the sign of the mean of its labels' centres; a bit
// where that mean is 0 (a tie between the labels, or an item with no label) takes tie_break's
// sign. labels: B x C multi-hot, centres: C x bits, tie_break: bits in {-1, +1}.
torch::Tensor csq_item_centres(const torch::Tensor& labels, const torch::Tensor& centres,
                               const torch::Tensor& tie_break);

// The CSQ objective on tanh outputs u (B x bits) and their centres (B x bits, +-1):
//   mean BCE((u + 1) / 2, (c + 1) / 2)  +  lambda * mean (|u| - 1)^2
// (the central similarity term, then the quantisation term), means over all B x bits entries.
torch::Tensor csq_loss(const torch::Tensor& u, const torch::Tensor& centres, double lambda);

}  // namespace hamster
