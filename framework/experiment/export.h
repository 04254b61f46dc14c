#pragma once
// `hamster export`: a config's trained builds as .npy files, for analysis outside hamster.
#include <filesystem>
#include <iosfwd>
#include <string>

#include "framework/experiment/config.h"

namespace hamster {

// For each build matching `filter` (training it if it is not cached), writes
// <out>/<build>/{query,db}_{codes,real,features,labels}.npy. Returns the builds written.
int export_encodings(const ExperimentConfig& config, const std::string& filter,
                     const std::filesystem::path& out, std::ostream& log);

}  // namespace hamster
