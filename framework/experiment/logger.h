#pragma once
// Progress lines of a run: one Logger is shared by the threads that train models side by
// side, so each line arrives whole; seconds_since() times what the lines report.
#include <chrono>
#include <mutex>
#include <ostream>
#include <string>

namespace hamster {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

class Logger {
 public:
  explicit Logger(std::ostream& out) : out_(out) {}
  void operator()(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    out_ << line << std::endl;
  }

 private:
  std::ostream& out_;
  std::mutex mutex_;
};

}  // namespace hamster
