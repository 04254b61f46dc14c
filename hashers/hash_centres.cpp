#include "hashers/hash_centres.h"

#include "framework/error.h"

namespace hamster {

torch::Tensor sylvester_hadamard(int n) {
  if (n < 1 || (n & (n - 1)) != 0)
    throw Error("Hadamard matrix: size must be a power of two, got " + std::to_string(n));
  torch::Tensor h = torch::ones({1, 1});
  while (h.size(0) < n) h = torch::cat({torch::cat({h, h}, 1), torch::cat({h, -h}, 1)}, 0);
  return h;
}

torch::Tensor hash_centres(int classes, int bits, uint64_t seed) {
  if (classes < 1)
    throw Error("hash centres: need at least one class, got " + std::to_string(classes));
  const bool power_of_two = bits >= 1 && (bits & (bits - 1)) == 0;
  if (power_of_two && 2 * bits >= classes) {
    torch::Tensor h = sylvester_hadamard(bits);
    return torch::cat({h, -h}, 0).slice(0, 0, classes).contiguous();
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(0, 2, {classes, bits}, gen, torch::kFloat) * 2 - 1;
}

}  // namespace hamster
