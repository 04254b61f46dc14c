#pragma once
// Helpers for the deep hashers' tests on the LibTorch side: small tensors written row by
// row for losses worked by hand, and the method state a DeepHasher saved with its model.
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "hashers/torch_doctest.h"

namespace hamster::test {

// {{1, 0}, {0, 1}} -> a 2 x 2 float tensor.
inline torch::Tensor rows(const std::vector<std::vector<float>>& values) {
  std::vector<torch::Tensor> out;
  for (const auto& r : values) out.push_back(torch::tensor(r));
  return torch::stack(out);
}

// {{1, 0}, {0.5, 1}} -> a 2 x 2 double tensor: losses worked by hand to six digits.
inline torch::Tensor matrix(std::initializer_list<std::initializer_list<double>> values) {
  std::vector<torch::Tensor> out;
  for (const auto& r : values)
    out.push_back(torch::tensor(std::vector<double>(r), torch::kFloat64));
  return torch::stack(out);
}

// The tensor `name` of the method state (DeepHasher::save_state) in DIR/model.pt; the test
// fails here when the state or the name is missing.
inline torch::Tensor saved_state(const std::filesystem::path& dir, const std::string& name) {
  torch::serialize::InputArchive archive, state;
  archive.load_from((dir / "model.pt").string());
  REQUIRE(archive.try_read("method_state", state));
  torch::Tensor value;
  REQUIRE(state.try_read(name, value));
  return value;
}

}  // namespace hamster::test
