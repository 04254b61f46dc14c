#pragma once
// Where a result came from: git sha and dirty flag, library versions, host, time.
#include <string>

namespace hamster {

struct Provenance {
  std::string git_sha;  // "unknown" outside a git checkout
  bool git_dirty = false;
  std::string versions;  // "hamster 0.1, torch 1.13.1, eigen 3.4.0, tbb ..., fmt ..., g++ ..."
  std::string host;
  // Trained codes depend on the CPU's float kernels: the model name and the instruction
  // set extensions LibTorch and the Hamming kernels dispatch on (from /proc/cpuinfo).
  std::string cpu_model;
  std::string cpu_flags;  // e.g. "avx avx2 avx512f avx512_vpopcntdq fma popcnt"
  // The Hamming kernel stage 1 runs on ("scalar", "avx2" or "avx512"): the CPU's best, or
  // the one HAMSTER_HAMMING_KERNEL forces. Results do not depend on it; times do.
  std::string hamming_kernel;
  std::string timestamp;  // UTC, ISO 8601
};

// Throws Error when HAMSTER_HAMMING_KERNEL names a kernel this CPU cannot run.
Provenance collect_provenance();

}  // namespace hamster
