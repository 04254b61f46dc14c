#include "framework/experiment/record_items.h"

#include "framework/error.h"
#include "framework/experiment/datasets.h"
#include "framework/experiment/result_store.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

Dataset load_record_dataset(const json& r) {
  if (!r.contains("dataset_source"))
    throw Error("cell " + r.value("cell", std::string("?")) +
                ": the record does not say where its dataset was loaded from (written before "
                "records kept it); run its config again with --force");
  ExperimentConfig c;
  c.dataset = r.at("dataset").get<std::string>();
  const json& source = r.at("dataset_source");
  c.dataset_path = source.at("path").get<std::string>();
  for (const auto& [k, v] : source.at("options").items())
    set_dataset_option(c, k, v.get<std::string>());
  return load_dataset(c);
}

void dump_items(const fs::path& dir, const std::string& cell, const std::vector<int64_t>& items,
                const fs::path& out) {
  const ResultStore store(dir);
  const fs::path file = store.file();
  const std::vector<json> records = store.read();
  const json* record = nullptr;
  for (const json& r : records)
    if (cell.empty() || r.value("cell", "") == cell) {
      record = &r;
      break;
    }
  if (!record)
    throw Error(file.string() + ": no cell '" + cell + "'" +
                (records.empty() ? "" : " (ids look like " + records[0].value("cell", "") + ")"));
  const Dataset data = load_record_dataset(*record);
  NpyArray images{
      "|u1", {static_cast<int64_t>(items.size()), data.channels, data.height, data.width}, {}};
  std::vector<LabelSet> labels;
  for (int64_t i : items) {
    if (i < 0 || i >= data.size())
      throw Error("item " + std::to_string(i) + " is outside the dataset " + data.name + " (" +
                  std::to_string(data.size()) + " items)");
    const auto* p = reinterpret_cast<const char*>(data.image(i));
    images.bytes.insert(images.bytes.end(), p, p + data.image_bytes());
    labels.push_back(data.labels[i]);
  }
  fs::create_directories(out);
  save_npy(out / "images.npy", images);
  save_labels(out / "labels.npy", labels, data.num_classes());
}

}  // namespace hamster
