#include "framework/experiment/report.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "framework/error.h"

extern char** environ;

namespace hamster {
namespace fs = std::filesystem;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// Runs argv[0] with these arguments (no shell, so no quoting) and returns its exit status,
// or -1 when it could not be started.
int run(const std::vector<std::string>& args, bool quiet) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  const int started = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (started != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

fs::path write_report(const fs::path& results_dir, const ReportOptions& options) {
  if (!fs::exists(results_dir / "results.jsonl"))
    throw Error("no results at " + (results_dir / "results.jsonl").string());
  const std::string python = env_or("HAMSTER_PYTHON", "/usr/bin/python3");
  const fs::path script =
      fs::path(env_or("HAMSTER_NOTEBOOKS", HAMSTER_SOURCE_DIR "/notebooks")) / "report.py";
  if (!fs::exists(python))
    throw Error("hamster report needs " + python +
                " (Debian: python3 python3-numpy python3-pandas python3-matplotlib; or set "
                "HAMSTER_PYTHON)");
  if (!fs::exists(script))
    throw Error("hamster report: " + script.string() +
                " not found (set HAMSTER_NOTEBOOKS to "
                "the folder of report.py)");
  if (run({python, "-c", "import numpy, pandas, matplotlib"}, true) != 0)
    throw Error("hamster report: " + python +
                " cannot import numpy, pandas and matplotlib (Debian: python3-numpy "
                "python3-pandas python3-matplotlib)");
  const fs::path out = options.out.empty() ? results_dir / "report.html" : options.out;
  std::vector<std::string> args = {
      python,       script.string(), results_dir.string(),         "--out",
      out.string(), "--grids",       std::to_string(options.grids)};
  if (!options.hamster.empty()) args.insert(args.end(), {"--hamster", options.hamster.string()});
  const int status = run(args, false);
  if (status != 0)
    throw Error("hamster report: " + script.string() + " failed (exit status " +
                std::to_string(status) + "; its message is above)");
  return out;
}

}  // namespace hamster
