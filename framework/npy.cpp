#include "framework/npy.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "framework/error.h"
#include "framework/temp_path.h"

namespace hamster {
namespace fs = std::filesystem;

int64_t NpyArray::count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

static int64_t item_size(const std::string& descr, const fs::path& file) {
  if (descr == "|u1" || descr == "<u1") return 1;
  if (descr == "<f4" || descr == "<i4") return 4;
  if (descr == "<u8" || descr == "<i8" || descr == "<f8") return 8;
  throw Error(file.string() + ": unsupported npy dtype '" + descr + "'");
}

// memcpy, except that an empty array (whose data pointer may be null) copies nothing.
static void copy_bytes(void* to, const void* from, size_t n) {
  if (n > 0) std::memcpy(to, from, n);
}

static void write_bytes_atomic(const fs::path& file, const std::string& head, const char* data,
                               size_t size) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  const fs::path tmp = temp_path_beside(file);
  bool written;
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw Error("cannot write " + tmp.string());
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    out.write(data, static_cast<std::streamsize>(size));
    written = static_cast<bool>(out.flush());
  }
  if (!written) {  // a full disk, say: leave nothing half-written behind
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error("write failed: " + tmp.string());
  }
  fs::rename(tmp, file);
}

void write_file_atomic(const fs::path& file, const std::string& text) {
  write_bytes_atomic(file, "", text.data(), text.size());
}

void save_npy(const fs::path& file, const NpyArray& a) {
  std::ostringstream dict;
  dict << "{'descr': '" << a.descr << "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < a.shape.size(); ++i)
    dict << a.shape[i] << (a.shape.size() == 1 || i + 1 < a.shape.size() ? "," : "");
  dict << "), }";
  std::string header = dict.str();
  // Pad so that magic(6) + version(2) + len(2) + header is a multiple of 64, ending in '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string head = std::string("\x93NUMPY", 6) + '\x01' + '\x00';
  head.push_back(static_cast<char>(header.size() & 0xff));
  head.push_back(static_cast<char>(header.size() >> 8));
  head += header;
  write_bytes_atomic(file, head, a.bytes.data(), a.bytes.size());
}

static std::string dict_value(const std::string& header, const std::string& key,
                              const fs::path& file) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) throw Error(file.string() + ": npy header lacks '" + key + "'");
  size_t colon = header.find(':', k);
  return header.substr(colon + 1);
}

// The header, checked against the file's size; the data too when `with_data`.
static NpyArray read_npy(const fs::path& file, bool with_data) {
  if (fs::is_directory(file)) throw Error(file.string() + ": is a directory, expected a .npy file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot open " + file.string());
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw Error(file.string() + ": not a .npy file (bad magic)");
  if (magic[6] < 1 || magic[6] > 3)
    throw Error(file.string() + ": unsupported npy version " + std::to_string(magic[6]));
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char l[2];
    in.read(reinterpret_cast<char*>(l), 2);
    header_len = l[0] | (l[1] << 8);
  } else {
    unsigned char l[4];
    in.read(reinterpret_cast<char*>(l), 4);
    header_len = l[0] | (l[1] << 8) | (l[2] << 16) | (static_cast<uint32_t>(l[3]) << 24);
  }
  if (header_len > fs::file_size(file)) throw Error(file.string() + ": corrupt npy header length");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw Error(file.string() + ": truncated npy header");

  NpyArray a;
  std::string descr = dict_value(header, "descr", file);
  size_t q1 = descr.find('\''), q2 = descr.find('\'', q1 + 1);
  if (q1 == std::string::npos || q2 == std::string::npos)
    throw Error(file.string() + ": corrupt npy header (descr)");
  a.descr = descr.substr(q1 + 1, q2 - q1 - 1);
  if (dict_value(header, "fortran_order", file).find("True") < 3)
    throw Error(file.string() + ": Fortran-order arrays are not supported");
  std::string shape = dict_value(header, "shape", file);
  std::string dims = shape.substr(shape.find('(') + 1, shape.find(')') - shape.find('(') - 1);
  std::stringstream ss(dims);
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (tok.find_first_not_of(' ') != std::string::npos) {
      try {
        a.shape.push_back(std::stoll(tok));
      } catch (const std::exception&) {
        throw Error(file.string() + ": corrupt npy shape '" + dims + "'");
      }
    }

  const uintmax_t file_bytes = fs::file_size(file);
  for (int64_t d : a.shape) {
    if (d < 0) throw Error(file.string() + ": negative dimension in npy shape");
    // With a zero dimension the data size bounds nothing: (10^12, 0) is 0 bytes, yet a
    // reader would allocate 10^12 rows. No dimension of a real array exceeds its file.
    if (static_cast<uintmax_t>(d) > file_bytes)
      throw Error(file.string() + ": npy shape '" + dims + "' has a dimension larger than the " +
                  "file's " + std::to_string(file_bytes) + " bytes");
  }
  // Multiplied with a bound at each step: a lying header must not overflow into a small
  // size, nor ask for terabytes before the file size is checked.
  uintmax_t bytes = item_size(a.descr, file);
  for (int64_t d : a.shape) {
    if (d != 0 && bytes > file_bytes / static_cast<uintmax_t>(d))
      throw Error(file.string() + ": npy shape '" + dims + "' needs more data than the file's " +
                  std::to_string(file_bytes) + " bytes");
    bytes *= static_cast<uintmax_t>(d);
  }
  if (bytes > file_bytes)
    throw Error(file.string() + ": truncated npy data (expected " + std::to_string(bytes) +
                " bytes)");
  if (!with_data) return a;
  a.bytes.resize(bytes);
  if (!in.read(a.bytes.data(), static_cast<std::streamsize>(bytes)))
    throw Error(file.string() + ": truncated npy data (expected " + std::to_string(bytes) +
                " bytes)");
  return a;
}

NpyArray load_npy(const fs::path& file) { return read_npy(file, true); }

NpyArray load_npy_header(const fs::path& file) { return read_npy(file, false); }

void save_embedding(const fs::path& file, const Embedding& m) {
  NpyArray a{"<f4", {m.rows(), m.cols()}, {}};
  a.bytes.resize(m.size() * sizeof(float));
  copy_bytes(a.bytes.data(), m.data(), a.bytes.size());
  save_npy(file, a);
}

Embedding load_embedding(const fs::path& file) {
  NpyArray a = load_npy(file);
  if (a.descr != "<f4" || a.shape.size() != 2)
    throw Error(file.string() + ": expected a 2-d float32 array");
  Embedding m(a.shape[0], a.shape[1]);
  copy_bytes(m.data(), a.bytes.data(), a.bytes.size());
  return m;
}

void save_code_bits(const fs::path& file, const BinaryCodes& codes) {
  NpyArray a{"|u1", {codes.size(), codes.bits()}, {}};
  a.bytes.resize(codes.size() * codes.bits());
  for (int64_t i = 0; i < codes.size(); ++i)
    for (int b = 0; b < codes.bits(); ++b) a.bytes[i * codes.bits() + b] = codes.bit(i, b);
  save_npy(file, a);
}

BinaryCodes load_code_bits(const fs::path& file) {
  const NpyArray a = load_npy(file);
  if (a.descr != "|u1" || a.shape.size() != 2 || a.shape[1] < 1)
    throw Error(file.string() + ": expected an n x bits uint8 matrix of 0/1 codes, got '" +
                a.descr + "' of " + std::to_string(a.shape.size()) + " dimensions");
  if (a.shape[1] > std::numeric_limits<int>::max())
    throw Error(file.string() + ": " + std::to_string(a.shape[1]) + " bits is too many");
  const int bits = static_cast<int>(a.shape[1]);
  BinaryCodes codes(a.shape[0], bits);
  for (int64_t i = 0; i < codes.size(); ++i)
    for (int b = 0; b < bits; ++b) {
      const auto v = static_cast<unsigned char>(a.bytes[i * bits + b]);
      if (v > 1)
        throw Error(file.string() + ": value " + std::to_string(v) + " at row " +
                    std::to_string(i) + ", bit " + std::to_string(b) + " is not 0 or 1");
      if (v) codes.set_bit(i, b, true);
    }
  return codes;
}

void save_packed_codes(const fs::path& file, const BinaryCodes& codes) {
  NpyArray a{"<u8", {codes.size(), codes.words()}, {}};
  a.bytes.resize(codes.data().size() * sizeof(uint64_t));
  copy_bytes(a.bytes.data(), codes.data().data(), a.bytes.size());
  save_npy(file, a);
}

BinaryCodes load_packed_codes(const fs::path& file, int bits) {
  NpyArray a = load_npy(file);
  if (a.descr != "<u8" || a.shape.size() != 2 || a.shape[1] != (bits + 63) / 64)
    throw Error(file.string() + ": expected packed " + std::to_string(bits) + "-bit codes");
  BinaryCodes codes(a.shape[0], bits);
  copy_bytes(codes.data().data(), a.bytes.data(), a.bytes.size());
  return codes;
}

void save_labels(const fs::path& file, const std::vector<LabelSet>& labels, int num_classes) {
  if (num_classes < 0 || num_classes > kMaxClasses)
    throw Error(file.string() + ": cannot write labels of " + std::to_string(num_classes) +
                " classes (at most " + std::to_string(kMaxClasses) + ")");
  const auto n = static_cast<int64_t>(labels.size());
  NpyArray a{"|u1", {n, num_classes}, {}};
  a.bytes.assign(static_cast<size_t>(n * num_classes), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < num_classes; ++c) a.bytes[i * num_classes + c] = labels[i].test(c);
  save_npy(file, a);
}

std::vector<LabelSet> load_labels(const fs::path& file) {
  const NpyArray a = load_npy(file);
  std::vector<LabelSet> labels;
  if (a.descr == "<u8" && a.shape.size() == 1) {
    for (int64_t i = 0; i < a.shape[0]; ++i) {
      uint64_t mask;
      std::memcpy(&mask, a.bytes.data() + i * sizeof mask, sizeof mask);
      LabelSet s;
      for (int c = 0; c < 64; ++c)
        if ((mask >> c) & 1u) s.set(c);
      labels.push_back(s);
    }
    return labels;
  }
  if ((a.descr != "|u1" && a.descr != "<u1") || a.shape.size() != 2)
    throw Error(file.string() + ": expected an n x classes uint8 matrix of 0/1 labels (or 1-D " +
                "uint64 label masks), got dtype '" + a.descr + "' with " +
                std::to_string(a.shape.size()) + " dimensions");
  const int64_t n = a.shape[0], classes = a.shape[1];
  if (classes > kMaxClasses)
    throw Error(file.string() + ": " + std::to_string(classes) + " label columns, at most " +
                std::to_string(kMaxClasses) + " classes are supported");
  labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < classes; ++c) {
      const auto v = static_cast<uint8_t>(a.bytes[i * classes + c]);
      if (v > 1)
        throw Error(file.string() + ": label [" + std::to_string(i) + ", " + std::to_string(c) +
                    "] is " + std::to_string(v) + ", expected 0 or 1");
      if (v) labels[i].set(static_cast<int>(c));
    }
  return labels;
}

}  // namespace hamster
