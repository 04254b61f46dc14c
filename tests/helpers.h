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

// A markdown table with its padding removed ("| lsh    | 16 |" reads "| lsh | 16 |"; a rule
// cell "|------:|" reads "|---:|"), so tests match cells whatever the column widths.
inline std::string unpadded(const std::string& table) {
  std::string out, line;
  for (size_t start = 0; start < table.size();) {
    size_t end = table.find('\n', start);
    if (end == std::string::npos) end = table.size();
    line = table.substr(start, end - start);
    start = end + 1;
    if (line.rfind("|", 0) != 0) {
      out += line + "\n";
      continue;
    }
    std::string joined = "|";
    size_t from = 1;
    for (size_t bar; (bar = line.find('|', from)) != std::string::npos; from = bar + 1) {
      std::string cell = line.substr(from, bar - from);
      const size_t first = cell.find_first_not_of(' '), last = cell.find_last_not_of(' ');
      cell = first == std::string::npos ? "" : cell.substr(first, last - first + 1);
      if (!cell.empty() && cell.find_first_not_of("-:") == std::string::npos)
        joined += cell.back() == ':' ? "---:|" : "---|";
      else
        joined += (cell.empty() ? " " : " " + cell + " ") + "|";
    }
    out += joined + "\n";
  }
  return out;
}

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

// A dataset's shape as one line, for one CHECK with a readable failure:
// "cifar10: 13 items (10 official training), 3x32x32".
inline std::string shape_of(const Dataset& d) {
  return d.name + ": " + std::to_string(d.size()) + " items (" +
         std::to_string(d.official_train_size) + " official training), " +
         std::to_string(d.channels) + "x" + std::to_string(d.height) + "x" +
         std::to_string(d.width);
}

}  // namespace hamster::test
