#include "framework/hasher.h"

#include <iostream>

namespace hamster {

void FitContext::print(const std::string& line) const {
  if (log)
    log(line);
  else
    std::cerr << line << '\n';
}

}  // namespace hamster
