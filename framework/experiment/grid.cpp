#include "framework/experiment/grid.h"

#include <fmt/format.h>

#include <algorithm>

#include "framework/error.h"
#include "framework/eval/metrics.h"
#include "framework/experiment/datasets.h"
#include "framework/hasher.h"
#include "framework/params.h"
#include "framework/reranker.h"

namespace hamster {
namespace {

// "<config file>: " before a message about the grid, so the user knows which file to fix.
std::string in_config(const ExperimentConfig& c) { return c.source.empty() ? "" : c.source + ": "; }

// "|k=v" for every effective parameter of a plugin, defaults included: keys built from it
// change when a default changes in the code, so a stale model or record is never reused.
template <class Reg>
std::string effective_params(const Reg& registry, const PluginSpec& spec) {
  const std::vector<ParamSpec>& specs = registry.entry(spec.name).params;
  const Params effective(spec.values(), specs, spec.name);
  std::string text;
  for (const auto& [k, v] : effective.values()) {
    const auto it = std::find_if(specs.begin(), specs.end(),
                                 [&k = k](const ParamSpec& s) { return s.name == k; });
    if (it != specs.end() && !it->keyed_at_default && v == it->default_value) continue;
    text += "|" + k + "=" + v;
  }
  return text;
}

}  // namespace

int fit_threads(const ExperimentConfig& c) { return std::max(1, c.threads / c.parallel_fits); }

std::vector<Build> make_builds(const ExperimentConfig& c) {
  std::vector<Build> builds;
  for (const auto& h : c.hashers)
    for (int bits : c.bits)
      for (uint64_t seed : c.seeds) {
        Build b{&h,   bits,
                seed, fmt::format("{}{}/{}b/seed{}", c.id_prefix, h.label(), bits, seed),
                "",   c.protocol};
        std::string text = fmt::format(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", c.dataset, c.dataset_path, c.protocol, c.split_seed,
            c.query_per_class, c.train_per_class, c.database_includes_train, h.name, bits, seed);
        text += dataset_options_key(c);
        text += effective_params(HasherRegistry::instance(), h);
        // Training without the validation items is another model (0 keeps older keys).
        if (c.validation_per_class > 0)
          text += "|validation=" + std::to_string(c.validation_per_class);
        // The fit's thread count can change float summation order, hence the codes.
        text += "|threads=" + std::to_string(fit_threads(c));
        b.key = content_hash(text);
        for (const Build& other : builds)
          if (other.key == b.key)
            throw Error(in_config(c) + "builds " + other.id + " and " + b.id +
                        " are the same (same hasher, effective parameters, bits and seed); "
                        "list each once");
        builds.push_back(b);
      }
  return builds;
}

std::vector<Cell> make_cells(const ExperimentConfig& c, const std::vector<Build>& builds) {
  std::string metrics;
  for (const auto& m : metric_names(c.eval)) metrics += m + ",";
  std::vector<Cell> cells;
  for (const auto& b : builds)
    for (const Perturbation& p : c.perturbations)
      for (const auto& r : c.rerankers) {
        const std::string head = b.key + "|" + r.name + "|" + std::to_string(c.shortlist) + "|";
        const std::string params = effective_params(RerankerRegistry::instance(), r);
        std::string tail = c.queries != "test" ? "|queries=" + c.queries : "";
        // Clean queries keep the keys they had before perturbations existed.
        if (!p.none()) tail += "|perturb=" + p.label();
        const std::string id = b.id + "/" + (p.none() ? "" : p.label() + "/") + r.label();
        Cell cell{&b,
                  &r,
                  id,
                  content_hash(head + params + tail),
                  content_hash(head + metrics + params + tail),
                  &p};
        for (const Cell& other : cells)
          if (other.key == cell.key)
            throw Error(in_config(c) + "cells " + other.id + " and " + cell.id +
                        " are the same; list each re-ranker once");
        cells.push_back(cell);
      }
  return cells;
}

CellFilter::CellFilter(const std::string& text) : text_(text) {
  std::vector<std::string> parts(1);
  int depth = 0;
  for (char ch : text) {
    depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
    if (ch == ',' && depth == 0) {
      parts.emplace_back();
    } else {
      parts.back() += ch;
    }
  }
  for (const std::string& part : parts) {
    const auto eq = part.find('=');
    const std::string key = part.substr(0, eq);
    const bool known = eq != std::string::npos && kKeys.count(key);
    if (!known && terms_.empty()) return;  // plain text
    if (!known)
      throw Error("--filter: '" + part +
                  "' is not a key=value term (keys: hasher, bits, seed, reranker, protocol, "
                  "perturb)");
    terms_.emplace_back(key, part.substr(eq + 1));
  }
}

bool CellFilter::matches(const Cell& cell) const {
  if (terms_.empty()) return cell.id.find(text_) != std::string::npos;
  for (const auto& [key, value] : terms_) {
    const bool ok = key == "reranker"
                        ? value == cell.reranker->name || value == cell.reranker->label()
                    : key == "perturb" ? value == cell.perturb->label()
                                       : build_term_holds(*cell.build, key, value);
    if (!ok) return false;
  }
  return true;
}

bool CellFilter::matches(const Build& b) const {
  if (terms_.empty()) return b.id.find(text_) != std::string::npos;
  for (const auto& [key, value] : terms_) {
    if (key == "reranker" || key == "perturb")
      throw Error("--filter: export chooses builds; '" + key +
                  "' does not apply (keys: hasher, bits, seed, protocol)");
    if (!build_term_holds(b, key, value)) return false;
  }
  return true;
}

bool CellFilter::build_term_holds(const Build& b, const std::string& key,
                                  const std::string& value) {
  return key == "hasher"     ? value == b.hasher->name || value == b.hasher->label()
         : key == "bits"     ? value == std::to_string(b.bits)
         : key == "protocol" ? value == b.protocol
                             : value == std::to_string(b.seed);
}

}  // namespace hamster
