#include "framework/artefacts.h"

#include <unistd.h>

#include <chrono>

#include "framework/manifest.h"

namespace hamster {
namespace fs = std::filesystem;

namespace {

fs::path manifest_of(const fs::path& dir, const std::string& key) {
  return dir / (key + ".manifest.json");
}

}  // namespace

double ArtefactStore::now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ArtefactStore::save_atomically(const std::string& key,
                                    const std::function<void(const fs::path&)>& write) {
  // A folder of this process's own: runs sharing the cache (shards, or two runs of one
  // config) may save the same artefact at once.
  const fs::path tmp = disk_dir_ / (".tmp." + std::to_string(::getpid()) + "." + key);
  try {
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    write(tmp / key);
    write_manifest(manifest_of(tmp, key), tmp, {key});
    // The manifest goes into place first: a reader finds the artefact only once its
    // manifest is there. Another process's copy of the same artefact (same key, same
    // bytes) may be replaced, which changes nothing.
    fs::rename(manifest_of(tmp, key), manifest_of(disk_dir_, key));
    fs::rename(tmp / key, disk_dir_ / key);
    fs::remove_all(tmp);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
}

void ArtefactStore::verify_on_disk(const std::string& key) const {
  verify_manifest(manifest_of(disk_dir_, key), disk_dir_, "cached artefact " + key);
}

}  // namespace hamster
