#pragma once
// ArtefactStore: the per-build store of things several re-rankers share (the kNN graph of
// an embedding, its affinity matrix, eigenpairs...). Each artefact is built once, on first
// use, under a key that names everything it depends on; later requests get the same
// object. With a cache folder, artefacts that know how to save themselves are also kept
// on disk beside the model, so a later run (or a new re-ranker added to a finished
// config) loads them instead of rebuilding. Each file on disk has a manifest beside it
// (<key>.manifest.json, framework/manifest.h): a file that no longer matches it is refused
// with an Error naming it, never loaded. Build time is recorded per artefact, never
// charged to whichever cell happened to ask first.
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace hamster {

class ArtefactStore {
 public:
  // disk_dir empty: memory only.
  explicit ArtefactStore(std::filesystem::path disk_dir = {}) : disk_dir_(std::move(disk_dir)) {}

  // Told when an artefact starts to be built (from_disk false) or loaded, and when it is
  // ready (with its seconds), so a run can say what it is waiting for: a graph or
  // eigenpairs can take minutes. Unset: silent.
  std::function<void(const std::string& key, bool from_disk)> on_start;
  std::function<void(const std::string& key, bool from_disk, double seconds)> on_done;

  // How an artefact goes to and comes back from one file. load must throw hamster::Error
  // naming the file when it does not match what the key promises.
  template <class T>
  struct Disk {
    std::function<void(const std::filesystem::path&, const T&)> save;
    std::function<T(const std::filesystem::path&)> load;
  };

  // The artefact named `key` (characters safe in a file name: [A-Za-z0-9_.=,-]), built by
  // `build` on first use, or loaded from disk when `disk` is given and the file exists.
  template <class T>
  std::shared_ptr<const T> get(const std::string& key, const std::function<T()>& build,
                               const Disk<T>* disk = nullptr) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    requests_.push_back(key);
    if (auto it = items_.find(key); it != items_.end())
      return std::static_pointer_cast<const T>(it->second);
    const std::filesystem::path file = disk && !disk_dir_.empty() ? disk_dir_ / key : "";
    const double t0 = now();
    const double outer_nested = nested_seconds_;
    nested_seconds_ = 0;
    std::shared_ptr<const T> value;
    bool from_disk = false;
    const bool on_disk = !file.empty() && std::filesystem::exists(file);
    if (on_start) on_start(key, on_disk);
    if (on_disk) {
      verify_on_disk(key);
      value = std::make_shared<const T>(disk->load(file));
      from_disk = true;
    } else {
      value = std::make_shared<const T>(build());
      if (!file.empty())
        save_atomically(key, [&](const std::filesystem::path& p) { disk->save(p, *value); });
    }
    // Exclusive time: an artefact built from another (affinity from graph) is not charged
    // for the other's build, which has its own entry.
    const double elapsed = now() - t0;
    log_.push_back({key, elapsed - nested_seconds_, from_disk});
    if (on_done) on_done(key, from_disk, elapsed - nested_seconds_);
    nested_seconds_ = outer_nested + elapsed;
    items_[key] = value;
    return value;
  }

  struct Entry {
    std::string key;
    double seconds;  // build (or load) time
    bool from_disk;
  };
  // Every artefact built or loaded so far, in order.
  std::vector<Entry> entries() const {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return log_;
  }
  // The entries of the artefacts requested since the last call, each once, in first
  // request order: what one cell used, built by it or by an earlier cell.
  std::vector<Entry> take_requests() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    std::vector<Entry> used;
    std::set<std::string> seen;
    for (const std::string& key : requests_)
      if (seen.insert(key).second)
        for (const Entry& e : log_)
          if (e.key == key) used.push_back(e);
    requests_.clear();
    return used;
  }

 private:
  static double now();
  // Writes artefact `key` through `write` under a temporary name with its manifest, then
  // renames both into place: no half-written artefact, none without its manifest.
  void save_atomically(const std::string& key,
                       const std::function<void(const std::filesystem::path&)>& write);
  // Throws Error when artefact `key` on disk does not match its manifest, or has none.
  void verify_on_disk(const std::string& key) const;

  std::filesystem::path disk_dir_;
  mutable std::recursive_mutex mutex_;  // an artefact's build may ask for another one
  std::map<std::string, std::shared_ptr<const void>> items_;
  std::vector<Entry> log_;
  std::vector<std::string> requests_;
  double nested_seconds_ = 0;  // time spent in artefacts built inside the current build
};

}  // namespace hamster
