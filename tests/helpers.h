#pragma once
// Small helpers shared by the tests.
#include <cstdint>
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

}  // namespace hamster::test
