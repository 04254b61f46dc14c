#pragma once
// Typed reading of a config's YAML for framework/experiment/config.cpp: scalars and lists
// with errors that name the file, the key and what was expected ("bits: expected an
// integer, got a list"), plugin entries with their parameter sweeps and zip blocks, and
// dataset entries. Internal to config.cpp; the rest of hamster sees ExperimentConfig.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "framework/data/split.h"
#include "framework/error.h"
#include "framework/experiment/config.h"
#include "framework/experiment/datasets.h"
#include "framework/params.h"

namespace hamster::config_yaml {

struct Reader {
  std::string source;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(source + ": " + key + ": " + what);
  }

  // A mapping key or a plugin name as text. YAML allows a list or a mapping there (`{[1,
  // 2]: x}`); a config does not.
  std::string text(const YAML::Node& node, const std::string& where) const {
    if (!node.IsScalar())
      fail(where.empty() ? "(top level)" : where,
           "expected a plain name, got '" + YAML::Dump(node) + "'");
    return node.Scalar();
  }

  void only_keys(const YAML::Node& node, const std::string& where,
                 const std::set<std::string>& known) const {
    if (!node.IsMap()) fail(where, "expected a mapping");
    for (const auto& kv : node) {
      const std::string key = text(kv.first, where);
      if (!known.count(key)) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        fail(where.empty() ? key : where + "." + key, "unknown key (known: " + list + ")");
      }
    }
  }

  // What a value of type T looks like, for errors: "expected an integer, got 'ten'".
  template <class T>
  static std::string type_name() {
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) return "a whole number >= 0";
    if constexpr (std::is_integral_v<T>) return "an integer";
    if constexpr (std::is_floating_point_v<T>) return "a number";
    return "a single value";
  }

  template <class T>
  T scalar(const YAML::Node& node, const std::string& key) const {
    // A list where one value belongs: say so, since only some keys can be swept.
    if (node.IsSequence() || node.IsMap())
      fail(key,
           "expected " + type_name<T>() + ", got " + (node.IsSequence() ? "a list" : "a mapping") +
               " '" + YAML::Dump(node) +
               "' (one value only: of the top-level keys, bits, seeds, perturb, datasets and the "
               "plugin lists and their params take lists)");
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(key, "expected " + type_name<T>() + ", got '" + YAML::Dump(node) + "'");
    }
  }

  template <class T>
  std::vector<T> list(const YAML::Node& node, const std::string& key) const {
    if (node.IsScalar()) return {scalar<T>(node, key)};
    if (!node.IsSequence() || node.size() == 0) fail(key, "expected a non-empty list");
    std::vector<T> out;
    for (const auto& item : node) out.push_back(scalar<T>(item, key));
    return out;
  }

  std::vector<int64_t> ks(const YAML::Node& node, const std::string& key) const {
    std::vector<int64_t> out;
    for (const auto& s : list<std::string>(node, key)) {
      if (s == "all") {
        out.push_back(kAll);
        continue;
      }
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (*end || v < 1) fail(key, "expected a positive integer or 'all', got '" + s + "'");
      out.push_back(v);
    }
    return out;
  }

  // A plugin entry is a name, or {name, params}. A parameter given as a list is swept: the
  // entry expands to one plugin per combination of the listed values (a product over the
  // keys in the order written, the last varying fastest), e.g. {k: [20, 50], gamma: [1, 3]} gives
  // four re-rankers.
  template <class Reg>
  std::vector<PluginSpec> plugins(const YAML::Node& node, const std::string& key,
                                  const Reg& registry) const {
    // `all`: every registered plugin that runs at its defaults (one with a required
    // parameter, such as external's command, must be listed by hand), `none` first.
    if (node && node.IsScalar() && node.Scalar() == "all") {
      std::vector<PluginSpec> out;
      for (const auto& [name, entry] : registry.entries()) {
        const bool required =
            std::any_of(entry.params.begin(), entry.params.end(),
                        [](const ParamSpec& p) { return p.default_value.empty(); });
        if (required) continue;
        PluginSpec spec;
        spec.name = name;
        out.insert(name == "none" ? out.begin() : out.end(), spec);
      }
      return out;
    }
    if (!node || !node.IsSequence() || node.size() == 0)
      fail(key, "expected a non-empty list of {name, params}");
    std::vector<PluginSpec> out;
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string where = key + "[" + std::to_string(i) + "]";
      std::vector<PluginSpec> expanded(1);
      if (node[i].IsScalar()) {
        expanded[0].name = node[i].as<std::string>();
      } else {
        only_keys(node[i], where, {"name", "params", "zip"});
        if (!node[i]["name"]) fail(where, "missing 'name'");
        expanded[0].name = text(node[i]["name"], where + ".name");
        if (const auto& p = node[i]["params"]) {
          if (!p.IsMap()) fail(where + ".params", "expected a mapping");
          for (const auto& kv : p) {
            const std::string param = text(kv.first, where + ".params");
            expanded =
                with_values(expanded, param, values_of(kv.second, where + ".params." + param));
          }
        }
        if (const auto& z = node[i]["zip"]) expanded = zipped(expanded, z, where + ".zip");
      }
      for (const PluginSpec& spec : expanded) {
        try {  // checks the name and the parameter names now, not hours into a run
          const auto& entry = registry.entry(spec.name);
          Params(spec.params, entry.params, spec.name);
        } catch (const Error& e) {
          fail(where, e.what());
        }
        out.push_back(spec);
      }
    }
    return out;
  }

  // One dataset entry: `node` is the dataset's name (a scalar) or a mapping {name, path,
  // options...} (with `protocol` inside it when in_list), `protocol` the protocol node.
  // prefix is "" or "datasets[i]." for the error messages.
  DatasetChoice dataset_choice(const YAML::Node& node, const YAML::Node& protocol,
                               const std::string& prefix, bool in_list) const {
    DatasetChoice c;
    const std::string key = in_list ? prefix.substr(0, prefix.size() - 1) : "dataset";
    if (node && node.IsScalar()) {
      c.dataset = node.as<std::string>();
    } else if (node) {
      std::set<std::string> known = {"name",       "path",    "image_root",
                                     "image_size", "mosaics", "mosaic_seed"};
      if (in_list) known.insert("protocol");
      only_keys(node, key, known);
      if (node["name"]) c.dataset = scalar<std::string>(node["name"], key + ".name");
      if (node["path"]) c.dataset_path = scalar<std::string>(node["path"], key + ".path");
    }
    const DatasetSpec* spec = nullptr;
    try {
      spec = &dataset_spec(c.dataset);
    } catch (const Error& e) {
      fail(key, e.what());
    }
    if (node && node.IsMap()) {
      for (const auto& kv : node) {
        const std::string option = text(kv.first, key);
        if (option == "name" || option == "path" || option == "protocol") continue;
        if (std::find(spec->options.begin(), spec->options.end(), option) == spec->options.end())
          fail(key + "." + option, "not an option of dataset " + c.dataset);
      }
      if (node["image_root"])
        c.image_root = scalar<std::string>(node["image_root"], key + ".image_root");
      if (node["image_size"]) c.image_size = scalar<int>(node["image_size"], key + ".image_size");
      if (c.image_size < 1 || c.image_size > 4096)
        fail(key + ".image_size", "must be in 1..4096, got " + std::to_string(c.image_size));
      if (node["mosaics"]) c.mosaics = scalar<int64_t>(node["mosaics"], key + ".mosaics");
      if (c.mosaics < 1) fail(key + ".mosaics", "must be >= 1");
      if (node["mosaic_seed"])
        c.mosaic_seed = scalar<uint64_t>(node["mosaic_seed"], key + ".mosaic_seed");
    }
    const std::string pkey = in_list ? key + ".protocol" : "protocol";
    c.protocol = protocol ? scalar<std::string>(protocol, pkey) : spec->protocols.front();
    const std::vector<std::string> named = split_protocols();
    const bool custom = c.protocol == "stratified" || c.protocol == "per-concept";
    if (!custom && std::find(named.begin(), named.end(), c.protocol) == named.end()) {
      std::string list;
      for (const auto& p : named) list += p + ", ";
      fail(pkey,
           "unknown protocol '" + c.protocol + "' (known: " + list + "stratified, per-concept)");
    }
    // A named protocol belongs to one dataset (docs/protocol.md).
    if (const DatasetSpec* owner = dataset_defining(c.protocol); owner && owner != spec)
      fail(pkey,
           "protocol '" + c.protocol + "' is defined on " + owner->name + ", not " + c.dataset);
    return c;
  }

  // A parameter's values: one scalar, or a non-empty list of scalars (a sweep).
  std::vector<std::string> values_of(const YAML::Node& v, const std::string& where) const {
    if (v.IsScalar()) return {v.as<std::string>()};
    if (!v.IsSequence() || v.size() == 0)
      fail(where, "expected a scalar or a non-empty list of scalars");
    std::vector<std::string> out;
    for (const auto& item : v) {
      if (!item.IsScalar()) fail(where, "expected a list of scalars");
      out.push_back(item.as<std::string>());
    }
    return out;
  }

  // A `zip:` block pairs its lists element-wise (all of one length): {k: [10, 50],
  // gamma: [1, 3]} gives (k=10, gamma=1) and (k=50, gamma=3); crossed with the params sweep.
  std::vector<PluginSpec> zipped(const std::vector<PluginSpec>& specs, const YAML::Node& z,
                                 const std::string& where) const {
    if (!z.IsMap() || z.size() == 0) fail(where, "expected a mapping of lists");
    std::vector<std::pair<std::string, std::vector<std::string>>> lists;
    for (const auto& kv : z) {
      const std::string key = text(kv.first, where);
      for (const PluginSpec& s : specs)
        if (s.params.count(key)) fail(where + "." + key, "also set in params");
      lists.emplace_back(key, values_of(kv.second, where + "." + key));
      if (lists.back().second.size() != lists.front().second.size())
        fail(where, "lists of different lengths: " + lists.front().first + " has " +
                        std::to_string(lists.front().second.size()) + ", " + key + " has " +
                        std::to_string(lists.back().second.size()));
    }
    std::vector<PluginSpec> out;
    for (const PluginSpec& spec : specs)
      for (size_t j = 0; j < lists.front().second.size(); ++j) {
        PluginSpec s = spec;
        for (const auto& [key, values] : lists) s.params[key] = values[j];
        out.push_back(s);
      }
    return out;
  }

  static std::vector<PluginSpec> with_values(const std::vector<PluginSpec>& specs,
                                             const std::string& key,
                                             const std::vector<std::string>& values) {
    std::vector<PluginSpec> out;
    for (const PluginSpec& spec : specs)
      for (const std::string& v : values) {
        PluginSpec s = spec;
        s.params[key] = v;
        out.push_back(s);
      }
    return out;
  }
};

}  // namespace hamster::config_yaml
