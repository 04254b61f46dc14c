#pragma once
// A temporary file name beside `file`, unique to this process and call: files are written
// there and renamed over the target, so a reader never sees half a file, and concurrent
// writers (shards as processes, or as threads of one process) never share a temp file.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

namespace hamster {

inline std::filesystem::path temp_path_beside(const std::filesystem::path& file) {
  static std::atomic<uint64_t> counter{0};
  return file.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

}  // namespace hamster
