#pragma once
// LSH and ITQ hash the same input: an image's pixels centred on the training mean and
// scaled by 1/255, projected to `bits` directions. Both encode with this one function, so
// the `feature` re-ranker compares their shortlists with one feature (those pixels).
#include <string>
#include <vector>

#include "framework/hasher.h"

namespace hamster {

// Encoded: features = the centred, scaled pixels; real = features x projection (d x bits);
// codes = the signs of real. `method` names the hasher in errors (encode before fit, or
// images of another size than the projection was fitted on).
Encoded encode_projected_pixels(const std::string& method, const Dataset& data,
                                const std::vector<int64_t>& ids, const Embedding& mean,
                                const Embedding& projection);

}  // namespace hamster
