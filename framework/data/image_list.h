#pragma once
// Image-list datasets (NUS-WIDE and the like): a text file of image paths, each followed
// by its 0/1 labels; the images are decoded (stb_image), made RGB and resized to a fixed
// square side. Every error names the list file and line.
#include <filesystem>
#include <string>

#include "framework/data/dataset.h"

namespace hamster {

struct ImageListOptions {
  // Where relative image paths start; empty: the folder of the list file naming them.
  std::filesystem::path image_root;
  // Every image is resized to image_size x image_size (the small CNN takes 32x32).
  int image_size = 32;
};

// One list file. Each non-blank line is "PATH L1 L2 ... LN": an image path (no spaces),
// then N labels, each 0 or 1, separated by spaces or tabs; N is taken from the first line
// and must be the same on every line, 1..kMaxClasses. Errors, each naming the file and
// line: a missing or undecodable image, a wrong number of labels, a label other than 0/1,
// an item with no label; also an empty list. Images are decoded in parallel (TBB).
// Class names are "0".."N-1"; official_train_size is 0.
Dataset load_image_list(const std::filesystem::path& list, const ImageListOptions& options,
                        const std::string& name);

// A NUS-WIDE folder. Either
//   list.txt                   every image, one list (the nuswide-21 protocol draws the split)
// or the layout of the common DPSH/DSDH releases,
//   database.txt, test.txt     pooled, database first (official_train_size = its size);
//   train.txt                  ignored: in those releases it is a subset of database.txt.
// Optional concepts.txt: one concept name per line (blank lines skipped), as many as
// label columns. Lists have 21 label columns for the nuswide-21 protocol; any width up to
// kMaxClasses loads.
Dataset load_nuswide(const std::filesystem::path& dir, const ImageListOptions& options = {});

}  // namespace hamster
