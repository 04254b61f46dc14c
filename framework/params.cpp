#include "framework/params.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "framework/error.h"

namespace hamster {

Params::Params(std::map<std::string, std::string> values, const std::vector<ParamSpec>& specs,
               std::string owner)
    : owner_(std::move(owner)) {
  for (const auto& s : specs) values_[s.name] = s.default_value;
  for (const auto& [key, value] : values) {
    if (!values_.count(key)) {
      std::string known;
      for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
      throw Error("unknown parameter '" + key + "' for '" + owner_ +
                  "' (known: " + (known.empty() ? "none" : known) + ")");
    }
    values_[key] = value;
    user_set_[key] = value;
  }
}

const std::string& Params::raw(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw Error("'" + owner_ + "' has no parameter '" + key + "'");
  return it->second;
}

int Params::get_int(const std::string& key) const {
  const std::string& s = raw(key);
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE || v < INT_MIN || v > INT_MAX)
    throw Error(owner_ + "." + key + ": expected an integer, got '" + s + "'");
  return static_cast<int>(v);
}

double Params::get_double(const std::string& key) const {
  const std::string& s = raw(key);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v))
    throw Error(owner_ + "." + key + ": expected a finite number, got '" + s + "'");
  return v;
}

bool Params::get_bool(const std::string& key) const {
  std::string s = raw(key);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  throw Error(owner_ + "." + key + ": expected true or false, got '" + raw(key) + "'");
}

std::string Params::get_string(const std::string& key) const { return raw(key); }

std::string Params::summary() const {
  std::string out;
  for (const auto& [k, v] : user_set_) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

}  // namespace hamster
