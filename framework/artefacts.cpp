#include "framework/artefacts.h"

#include <chrono>

namespace hamster {
namespace fs = std::filesystem;

double ArtefactStore::now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ArtefactStore::save_atomically(const fs::path& file,
                                    const std::function<void(const fs::path&)>& write) {
  fs::create_directories(file.parent_path());
  fs::path tmp = file;
  tmp += ".tmp";
  try {
    write(tmp);
    fs::rename(tmp, file);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

}  // namespace hamster
