#include "framework/manifest.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/error.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kManifestVersion = 1;
const char* const kRerun = "rerun with --force to rebuild it";

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::string file_hash(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read " + file.string());
  uint64_t h = 1469598103934665603ull;
  std::vector<char> chunk(size_t{1} << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<size_t>(in.gcount());
    for (size_t i = 0; i < got; ++i)
      h = (h ^ static_cast<unsigned char>(chunk[i])) * 1099511628211ull;
  }
  if (in.bad()) throw Error("cannot read " + file.string());
  return hex64(h);
}

std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), dir).generic_string());
  std::sort(files.begin(), files.end());
  return files;
}

void write_manifest(const fs::path& manifest, const fs::path& base,
                    const std::vector<std::string>& files) {
  json list = json::array();
  for (const std::string& name : files) {
    const fs::path file = base / name;
    json entry = {{"path", name}, {"bytes", fs::file_size(file)}, {"fnv1a64", file_hash(file)}};
    // Dtype and shape say what a file held, for a person reading a damaged cache.
    if (file.extension() == ".npy") {
      const NpyArray header = load_npy_header(file);
      entry["dtype"] = header.descr;
      entry["shape"] = header.shape;
    }
    list.push_back(std::move(entry));
  }
  write_file_atomic(manifest, json{{"manifest", kManifestVersion}, {"files", list}}.dump(1) + "\n");
}

void verify_manifest(const fs::path& manifest, const fs::path& base, const std::string& what) {
  if (!fs::exists(manifest))
    throw Error(manifest.string() + ": missing: the " + what + " in " + base.string() +
                " has no manifest (written by an older hamster, or damaged); " + kRerun);
  json doc;
  try {
    std::ifstream in(manifest);
    doc = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(manifest.string() + ": corrupt manifest (" + e.what() + "); " + kRerun);
  }
  struct Expected {
    std::string path, hash;
    uintmax_t bytes;
  };
  std::vector<Expected> expected;
  try {
    if (doc.at("manifest").get<int>() != kManifestVersion)
      throw Error(manifest.string() + ": manifest version " + doc.at("manifest").dump() +
                  ", expected " + std::to_string(kManifestVersion) + "; " + kRerun);
    for (const json& f : doc.at("files"))
      expected.push_back({f.at("path").get<std::string>(), f.at("fnv1a64").get<std::string>(),
                          f.at("bytes").get<uintmax_t>()});
  } catch (const json::exception& e) {
    throw Error(manifest.string() + ": corrupt manifest (" + e.what() + "); " + kRerun);
  }
  for (const Expected& e : expected) {
    const fs::path file = base / e.path;
    if (!fs::is_regular_file(file))
      throw Error(file.string() + ": missing, but listed in " + manifest.string() + "; the " +
                  what + " is incomplete: " + kRerun);
    const uintmax_t bytes = fs::file_size(file);
    if (bytes != e.bytes)
      throw Error(file.string() + ": " + std::to_string(bytes) + " bytes, but " +
                  manifest.string() + " says " + std::to_string(e.bytes) + "; the " + what +
                  " is damaged: " + kRerun);
    const std::string hash = file_hash(file);
    if (hash != e.hash)
      throw Error(file.string() + ": content hash " + hash + ", but " + manifest.string() +
                  " says " + e.hash + "; the " + what + " is damaged: " + kRerun);
  }
}

}  // namespace hamster
