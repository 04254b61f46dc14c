#include "hashers/pixel_projection.h"

#include "framework/error.h"

namespace hamster {

Encoded encode_projected_pixels(const std::string& method, const Dataset& data,
                                const std::vector<int64_t>& ids, const Embedding& mean,
                                const Embedding& projection) {
  if (projection.size() == 0) throw Error(method + ": encode() before fit() or load()");
  const int64_t d = data.image_bytes();
  if (d != projection.rows())
    throw Error(method + ": fitted on images of " + std::to_string(projection.rows()) +
                " values, got " + std::to_string(d) + " from " + data.name);
  Encoded out;
  out.features.resize(static_cast<int64_t>(ids.size()), d);
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t p = 0; p < d; ++p)
      out.features(i, p) = (data.image(ids[i])[p] - mean(0, p)) / 255.0f;
  out.real = out.features * projection;
  out.codes = BinaryCodes::from_signs(out.real.data(), out.real.rows(),
                                      static_cast<int>(projection.cols()));
  return out;
}

}  // namespace hamster
