#pragma once
// Small helpers shared by the tests.
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
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

// The label set of classes 0..63 written as a bit mask (bit c = class c): hand-worked
// examples read best in binary.
inline LabelSet label_set(uint64_t mask) {
  LabelSet s;
  for (int c = 0; c < 64; ++c)
    if ((mask >> c) & 1u) s.set(c);
  return s;
}

inline std::vector<LabelSet> label_sets(std::initializer_list<uint64_t> masks) {
  std::vector<LabelSet> out;
  for (uint64_t m : masks) out.push_back(label_set(m));
  return out;
}

// Sets an environment variable for one scope, then puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

}  // namespace hamster::test
