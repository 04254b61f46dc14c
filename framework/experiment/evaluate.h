#pragma once
// `hamster evaluate`: metrics computed again, or added, from each cell's stored final top-L
// ranking (raw/, experiment/raw_results.h), the split file and the dataset's labels,
// without re-running any hasher or re-ranker.
//
// From a top-L ranking alone, a metric with cut-off k can be computed when k <= L: mAP@k,
// P@k and R@k (R@k counts the relevant items in the whole database, from the labels).
// mAP@all, and any k > L, need the ranking past L; they can be computed only when L is the
// database size. The Hamming-only metrics (tie-mAP, P@H<=r, the PR curve) need the codes;
// evaluate leaves them as stored.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace hamster {

// The metrics to compute: the cut-offs of mAP@k, P@k and R@k (kAll = all), as the
// config's `metrics:` block names them.
struct MetricRequest {
  std::vector<int64_t> map_at, precision_at, recall_at;
  bool empty() const { return map_at.empty() && precision_at.empty() && recall_at.empty(); }
};

// "map_at=all,1000;precision_at=10": terms joined by ';', each a key (map_at,
// precision_at, recall_at) and cut-offs joined by ','. Throws Error naming the bad term.
MetricRequest parse_metric_request(const std::string& text);

// Recomputes `request` for every cell of <dir>/results.jsonl and rewrites it and
// results.csv atomically, under the results lock; other metrics are kept as stored. An
// empty request recomputes every mAP@k, P@k and R@k a record holds that its top L allows,
// and keeps the rest. Returns the number of cells. Throws Error, writing nothing, naming
// the cell when a requested metric needs more than its top L, when a record has no raw
// results (written before they were stored), or when the raw file, the split file or the
// dataset do not match the record.
size_t evaluate_results(const std::filesystem::path& dir, const MetricRequest& request,
                        std::ostream& log);

}  // namespace hamster
