#pragma once
// The dataset items behind result records: what `hamster evaluate` scores against and what
// the retrieval grid draws (`hamster images`).
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/data/dataset.h"

namespace hamster {

// The dataset a record was computed on, loaded through the datasets table exactly as the
// runner loaded it (the record keeps the name, path and dataset.* options). Throws Error
// naming the cell for a record written before it kept them.
Dataset load_record_dataset(const nlohmann::json& record);

// Writes <out>/images.npy (n x C x H x W, uint8) and <out>/labels.npy (n x classes, 0/1)
// for `items`, in that order, from the dataset of the cell `cell` of <results_dir>
// (its id as in the table; empty: the first record). Throws Error naming an unknown cell
// or an item outside the dataset.
void dump_items(const std::filesystem::path& results_dir, const std::string& cell,
                const std::vector<int64_t>& items, const std::filesystem::path& out);

}  // namespace hamster
