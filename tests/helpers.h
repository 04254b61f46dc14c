#pragma once
// Small helpers shared by the tests.
#include <string>

#include "framework/error.h"

namespace hamster::test {

// The message of the hamster::Error that f throws, or "" if it throws none.
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace hamster::test
