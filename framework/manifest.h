#pragma once
// Manifests of cached artefacts. A cached model folder or artefact file is trusted only
// when a manifest beside it lists each of its files with the size and content hash it had
// when it was written (and, for .npy files, dtype and shape). The manifest is written
// after the files it describes and atomically; every load checks it first, so a damaged,
// truncated or swapped cache file is refused with its path instead of being read.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hamster {

// 64-bit FNV-1a of a file's bytes, as 16 hex digits (the same function as content_hash,
// over the file). Simple and fast enough: model files and kNN graphs are megabytes.
std::string file_hash(const std::filesystem::path& file);

// The regular files under `dir`, as paths relative to it, sorted.
std::vector<std::string> files_under(const std::filesystem::path& dir);

// Writes `manifest` (JSON) describing `files`, given relative to `base`.
void write_manifest(const std::filesystem::path& manifest, const std::filesystem::path& base,
                    const std::vector<std::string>& files);

// Checks every file `manifest` lists under `base`: present, of the recorded size and
// content hash. `what` names the cache in errors ("cached model", "cached kNN graph").
// Throws hamster::Error naming the file (or the missing or corrupt manifest) and saying to
// rerun with --force. Files the manifest does not list are not looked at.
void verify_manifest(const std::filesystem::path& manifest, const std::filesystem::path& base,
                     const std::string& what);

}  // namespace hamster
