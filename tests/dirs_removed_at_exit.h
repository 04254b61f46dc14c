#pragma once
// Folders a test or fuzz process made for itself, removed when that process exits
// normally, so a run leaves nothing behind in the temp folder. Only the process that made
// them removes them: a forked child (death tests, libFuzzer's -fork and -jobs) that exits
// must not delete its parent's folders.
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <vector>

namespace hamster::test {

class DirsRemovedAtExit {
 public:
  void add(const std::filesystem::path& dir) { dirs_.push_back(dir); }
  ~DirsRemovedAtExit() {
    if (::getpid() != owner_) return;
    std::error_code ignored;
    for (const auto& dir : dirs_) std::filesystem::remove_all(dir, ignored);
  }

 private:
  pid_t owner_ = ::getpid();
  std::vector<std::filesystem::path> dirs_;
};

}  // namespace hamster::test
