#pragma once
// Registry<T>: name -> factory, with help text and declared parameters.
// Held in a function-local static (no static-initialisation-order problem). Plugins
// register from their own .cpp with a static HAMSTER_REGISTER_* object; the plugin
// folders are CMake OBJECT libraries, so the linker cannot drop those objects.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/params.h"

namespace hamster {

template <class T, class... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<T>(const Params&, Args...)>;
  struct Entry {
    std::string help;
    std::vector<ParamSpec> params;
    Factory factory;
  };

  static Registry& instance() {
    static Registry registry;
    return registry;
  }

  void add(const std::string& name, std::string help, std::vector<ParamSpec> params,
           Factory factory) {
    if (entries_.count(name)) throw Error("plugin '" + name + "' is registered twice");
    entries_[name] = Entry{std::move(help), std::move(params), std::move(factory)};
  }

  const Entry& entry(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [k, v] : entries_) known += (known.empty() ? "" : ", ") + k;
      throw Error("unknown plugin '" + name + "' (known: " + known + ")");
    }
    return it->second;
  }

  // Builds `name` from raw config values; unknown parameters are rejected here.
  std::unique_ptr<T> create(const std::string& name,
                            const std::map<std::string, std::string>& values, Args... args) const {
    const Entry& e = entry(name);
    return e.factory(Params(values, e.params, name), args...);
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
  }
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace hamster
