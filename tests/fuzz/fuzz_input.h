#pragma once
// What every fuzz target shares: the fuzzer's bytes as a file that hamster's own reader
// opens, and the rule that bad input must end in a hamster::Error. Any other exception
// escapes LLVMFuzzerTestOneInput and aborts, which libFuzzer reports as a crash, as it
// does a sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "framework/error.h"
#include "tests/dirs_removed_at_exit.h"

namespace hamster::fuzz {

// A folder of this process's own (libFuzzer's -fork and -jobs run several at once),
// removed when the process exits normally.
inline const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    static test::DirsRemovedAtExit made;
    auto d = std::filesystem::temp_directory_path() /
             ("hamster-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    made.add(d);
    return d;
  }();
  return dir;
}

inline std::filesystem::path write_input(const std::string& name, const uint8_t* data,
                                         size_t size) {
  const std::filesystem::path file = work_dir() / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return file;
}

// Runs `read`: success or a hamster::Error are both correct answers.
template <class F>
void read_or_refuse(F&& read) {
  try {
    read();
  } catch (const Error&) {
  }
}

}  // namespace hamster::fuzz
