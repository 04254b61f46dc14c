#pragma once
// One exception type for bad input: the message names what and where.
#include <stdexcept>
#include <string>

namespace hamster {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace hamster
