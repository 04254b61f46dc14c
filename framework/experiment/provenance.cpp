#include "framework/experiment/provenance.h"

#include <fmt/format.h>
#include <oneapi/tbb/version.h>
#include <unistd.h>

#include <Eigen/Core>
#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "framework/codes/hamming_search.h"

namespace hamster {
namespace {

std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    std::array<char, 256> buf;
    while (fgets(buf.data(), buf.size(), pipe)) out += buf.data();
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

namespace {

void read_cpu(Provenance& p) {
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line) && (p.cpu_model.empty() || flags.empty())) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && p.cpu_model.empty()) p.cpu_model = value;
    if (key == "flags" && flags.empty()) flags = " " + value + " ";
  }
  if (p.cpu_model.empty()) p.cpu_model = "unknown";
  for (const char* f : {"sse4_2", "popcnt", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
                        "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_vpopcntdq", "amx_tile"})
    if (flags.find(std::string(" ") + f + " ") != std::string::npos)
      p.cpu_flags += (p.cpu_flags.empty() ? "" : " ") + std::string(f);
}

}  // namespace

Provenance collect_provenance() {
  Provenance p;
  const std::string git = std::string("git -C '") + HAMSTER_SOURCE_DIR + "' ";
  p.git_sha = command_output(git + "rev-parse HEAD 2>/dev/null");
  if (p.git_sha.empty()) p.git_sha = "unknown";
  p.git_dirty =
      !command_output(git + "status --porcelain --untracked-files=no 2>/dev/null").empty();
  p.versions =
      fmt::format("hamster {}, torch {}, eigen {}.{}.{}, tbb {}, fmt {}, g++ {}", HAMSTER_VERSION,
                  HAMSTER_TORCH_VERSION, EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION,
                  EIGEN_MINOR_VERSION, TBB_VERSION_STRING, FMT_VERSION, __VERSION__);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  p.host = host;
  read_cpu(p);
  p.hamming_kernel = default_hamming_kernel().name;
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  p.timestamp = stamp;
  return p;
}

}  // namespace hamster
