#pragma once
// Runs a shell command in a test and returns its standard output; the test fails unless
// the command exits 0.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

namespace hamster::test {

inline std::string run_command(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[256];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  CHECK(pclose(pipe) == 0);
  return out;
}

}  // namespace hamster::test
