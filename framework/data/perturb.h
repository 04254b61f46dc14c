#pragma once
// Query perturbations: the robustness axis of a grid (a config's `perturb:` list). Each
// degrades the query images only, seeded per item, so a grid measures how each hasher x
// re-ranker holds up when the queries are worse than the database: noisy, blurred,
// partly occluded, or lit differently.
//
//   none            the images as they are
//   noise=S         Gaussian noise, standard deviation S x 255 per pixel
//   blur=S          Gaussian blur, standard deviation S pixels
//   occlude=S       a mid-grey square covering the fraction S of the image, placed at random
//   brightness=S    every pixel shifted by S x 255 (S may be negative)
//   contrast=S      pixels pulled toward the image's mean by the fraction S
// Results are clamped to 0..255.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/dataset.h"

namespace hamster {

struct Perturbation {
  std::string kind = "none";
  double strength = 0;
  bool none() const { return kind == "none"; }
  // "none" or "kind=strength" as written in the config: part of cell ids and records.
  std::string label() const;
};

// Throws Error naming `where` and the known kinds for anything else, or a strength out of
// range (noise, blur > 0; occlude, contrast in (0, 1]; brightness in [-1, 1], not 0).
Perturbation parse_perturbation(const std::string& text, const std::string& where);

// A dataset holding data[ids], in that order, perturbed (item i of the result is data[ids[i]]
// with its labels). The noise, patch position... of an item depend only on seed and the
// item's index in `data`, so a query is degraded the same way in every cell and run.
Dataset perturbed_subset(const Dataset& data, const std::vector<int64_t>& ids,
                         const Perturbation& p, uint64_t seed);

}  // namespace hamster
