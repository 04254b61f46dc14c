#pragma once
// Params: one plugin's settings, checked against the parameters it declares. An unknown
// key is an error naming the known keys; a missing key takes the declared default.
#include <map>
#include <string>
#include <vector>

namespace hamster {

struct ParamSpec {
  std::string name;
  std::string default_value;  // as it would be written in YAML
  std::string help;
  // false for a parameter added after models were cached: at its default it stays out of
  // build keys, so those models (and records) remain this build's.
  bool keyed_at_default = true;
  // An integer that must be below the database size (a graph's k, an eigen rank): a dry
  // run checks it where the split's size is known before the data loads.
  bool below_database = false;
};

class Params {
 public:
  Params() = default;
  // values: key -> scalar text as written in the config. `owner` names the plugin in errors.
  Params(std::map<std::string, std::string> values, const std::vector<ParamSpec>& specs,
         std::string owner);

  int get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;

  // Every declared key with its effective value, sorted by key (for provenance and hashing).
  const std::map<std::string, std::string>& values() const { return values_; }
  // "k1=v1,k2=v2" of the keys the user set (used in result labels).
  std::string summary() const;

 private:
  const std::string& raw(const std::string& key) const;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> user_set_;
  std::string owner_;
};

}  // namespace hamster
