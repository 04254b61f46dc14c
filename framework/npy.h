#pragma once
// Minimal .npy (NumPy format 1.0) reading and writing, little-endian, C order.
// Used for `hamster export` and for the artifact cache of encoded codes.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/types.h"

namespace hamster {

struct NpyArray {
  std::string descr;           // e.g. "<f4", "|u1", "<u8"
  std::vector<int64_t> shape;  // C order
  std::vector<char> bytes;
  int64_t count() const;
};

// Writes atomically (temp file, then rename).
void save_npy(const std::filesystem::path& file, const NpyArray& array);
// Throws Error naming the file on a bad magic, header or truncated data.
NpyArray load_npy(const std::filesystem::path& file);
// The same checks, but only descr and shape are filled in (bytes stays empty).
NpyArray load_npy_header(const std::filesystem::path& file);

// Typed helpers.
void save_embedding(const std::filesystem::path& file, const Embedding& m);
Embedding load_embedding(const std::filesystem::path& file);
// Codes as an n x bits uint8 matrix of 0/1 (what numpy users expect; `hamster export`).
void save_code_bits(const std::filesystem::path& file, const BinaryCodes& codes);
// Reads that matrix back. Throws Error naming the file for any other shape or type, a
// value other than 0/1, or no columns.
BinaryCodes load_code_bits(const std::filesystem::path& file);
// Codes in their packed form (n x words uint64), for the cache.
void save_packed_codes(const std::filesystem::path& file, const BinaryCodes& codes);
BinaryCodes load_packed_codes(const std::filesystem::path& file, int bits);
// Labels as an n x num_classes uint8 matrix of 0/1 (multi-hot): independent of how
// LabelSet stores them, and what numpy users expect.
void save_labels(const std::filesystem::path& file, const std::vector<LabelSet>& labels,
                 int num_classes);
// Reads that matrix back; also the 1-D uint64 masks (bit c = class c) that older exports
// wrote. Throws Error naming the file for any other shape or type, a value other than 0/1,
// or more than kMaxClasses columns.
std::vector<LabelSet> load_labels(const std::filesystem::path& file);

// Writes `text` to `file` atomically (temp file + rename).
void write_file_atomic(const std::filesystem::path& file, const std::string& text);

}  // namespace hamster
