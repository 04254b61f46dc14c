#include "framework/data/loaders.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "framework/error.h"

namespace hamster {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kIdxImagesMagic = 0x00000803;  // unsigned byte data, 3 dimensions
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned byte data, 1 dimension

constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarImageBytes = 3 * kCifarSide * kCifarSide;
constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;
constexpr int kCifarClasses = 10;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// A file read through zlib: gzread passes data that is not gzip through unchanged, so
// one reader serves both the .gz and the uncompressed files.
class InputFile {
 public:
  explicit InputFile(const fs::path& path) : path_(path) {
    // gzopen's own failure says nothing about why; check the common cause first.
    if (!fs::exists(path)) throw Error(quoted(path) + ": file not found");
    // gzread on a directory fails as if the data were corrupt: say what it really is.
    if (fs::is_directory(path)) throw Error(quoted(path) + ": is a directory, expected a file");
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) throw Error(quoted(path) + ": cannot open for reading");
  }
  ~InputFile() { gzclose(file_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Up to n bytes; fewer only at the end of the data. Memory grows with what is actually
  // read, so a corrupt header announcing a huge size cannot trigger a huge allocation:
  // chunks start at 64 KiB (a small file costs no 16 MiB buffer) and double up to 16 MiB.
  std::vector<uint8_t> read(size_t n) {
    size_t chunk = size_t{1} << 16;
    std::vector<uint8_t> out;
    while (out.size() < n) {
      const size_t old = out.size();
      const size_t want = std::min(chunk, n - old);
      chunk = std::min(chunk * 2, size_t{1} << 24);
      out.resize(old + want);
      const int got = gzread(file_, out.data() + old, static_cast<unsigned>(want));
      if (got < 0) {
        int code = 0;
        throw Error(quoted(path_) + ": corrupt compressed data (" + gzerror(file_, &code) + ")");
      }
      out.resize(old + static_cast<size_t>(got));
      if (static_cast<size_t>(got) < want) break;
    }
    return out;
  }

  std::vector<uint8_t> read_all() { return read(SIZE_MAX); }

  // How many bytes are left (read and dropped, chunk by chunk: no allocation of their size).
  uint64_t count_rest() {
    std::vector<uint8_t> chunk(size_t{1} << 16);
    uint64_t rest = 0;
    for (;;) {
      const int got = gzread(file_, chunk.data(), static_cast<unsigned>(chunk.size()));
      if (got < 0) {
        int code = 0;
        throw Error(quoted(path_) + ": corrupt compressed data (" + gzerror(file_, &code) + ")");
      }
      rest += static_cast<uint64_t>(got);
      if (got == 0) return rest;
    }
  }

  // Exactly n bytes, or an Error saying which part (`what`) of the file is short.
  std::vector<uint8_t> read_exact(size_t n, const std::string& what) {
    std::vector<uint8_t> out = read(n);
    if (out.size() != n)
      throw Error(quoted(path_) + ": truncated " + what + ": expected " + std::to_string(n) +
                  " bytes, got " + std::to_string(out.size()));
    return out;
  }

 private:
  fs::path path_;
  gzFile file_ = nullptr;
};

// IDX stores its header as big-endian 32-bit integers.
uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// The IDX header of `size` bytes, magic number first. The magic is checked before the
// length, so that a wrong kind of file (labels given as images, say) is reported as such
// rather than as a short header.
std::vector<uint8_t> read_idx_header(InputFile& in, const fs::path& file, size_t size,
                                     uint32_t expected_magic, const char* kind) {
  std::vector<uint8_t> header = in.read(size);
  if (header.size() >= 4) {
    const uint32_t found = big_endian_u32(header.data());
    if (found != expected_magic)
      throw Error(quoted(file) + ": wrong magic number: expected " + hex32(expected_magic) +
                  " (IDX " + kind + "), found " + hex32(found));
  }
  if (header.size() != size)
    throw Error(quoted(file) + ": truncated header: expected " + std::to_string(size) +
                " bytes, got " + std::to_string(header.size()));
  return header;
}

struct IdxImages {
  int64_t count = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;
};

// IDX data has no end marker: bytes after what the header announces mean the header and
// the data disagree (a wrong count, or two files joined), so the file is refused.
void expect_end_of_idx(InputFile& in, const fs::path& file, uint64_t expected_bytes,
                       const std::string& announced) {
  const uint64_t extra = in.count_rest();
  if (extra != 0)
    throw Error(quoted(file) + ": " + std::to_string(extra) +
                " bytes after the end of the IDX data: the header announces " + announced + ", " +
                std::to_string(expected_bytes) + " bytes in all, but the file holds " +
                std::to_string(expected_bytes + extra));
}

IdxImages read_idx_images(const fs::path& file) {
  InputFile in(file);
  const std::vector<uint8_t> header = read_idx_header(in, file, 16, kIdxImagesMagic, "images");
  IdxImages out;
  out.count = big_endian_u32(&header[4]);
  out.height = big_endian_u32(&header[8]);
  out.width = big_endian_u32(&header[12]);
  // Bounds keep count * height * width far from overflow; real images are tiny.
  constexpr int64_t kMaxSide = 1 << 15;
  if (out.height < 1 || out.width < 1 || out.height > kMaxSide || out.width > kMaxSide)
    throw Error(quoted(file) + ": implausible image size " + std::to_string(out.height) + "x" +
                std::to_string(out.width));
  const auto data_bytes = static_cast<size_t>(out.count * out.height * out.width);
  out.pixels = in.read_exact(data_bytes, "image data");
  expect_end_of_idx(in, file, 16 + data_bytes,
                    std::to_string(out.count) + " images of " + std::to_string(out.height) + "x" +
                        std::to_string(out.width));
  return out;
}

std::vector<uint8_t> read_idx_labels(const fs::path& file) {
  InputFile in(file);
  const std::vector<uint8_t> header = read_idx_header(in, file, 8, kIdxLabelsMagic, "labels");
  const uint32_t count = big_endian_u32(&header[4]);
  std::vector<uint8_t> labels = in.read_exact(count, "label data");
  expect_end_of_idx(in, file, 8 + uint64_t{count}, std::to_string(count) + " labels");
  return labels;
}

// One-hot masks from class numbers, rejecting any outside [0, num_classes).
void append_labels(Dataset& d, const std::vector<uint8_t>& classes, int num_classes,
                   const fs::path& file, const char* item_word) {
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i] >= num_classes)
      throw Error(quoted(file) + ": " + item_word + " " + std::to_string(i) + " has label " +
                  std::to_string(classes[i]) + ", out of range for " + std::to_string(num_classes) +
                  " classes");
    d.labels.push_back(LabelSet::of(classes[i]));
  }
}

// "<dir>/<stem>.gz" when present, else "<dir>/<stem>".
fs::path gz_or_raw(const fs::path& dir, const std::string& stem) {
  const fs::path gz = dir / (stem + ".gz");
  const fs::path raw = dir / stem;
  if (fs::exists(gz)) return gz;
  if (fs::exists(raw)) return raw;
  throw Error("Fashion-MNIST file not found: " + quoted(gz) + " (or uncompressed " + quoted(raw) +
              "); the Debian package dataset-fashion-mnist installs it in " + kFashionMnistDir);
}

// Appends every record of one CIFAR-10 batch file to d; returns how many there were.
int64_t append_cifar_batch(Dataset& d, const fs::path& file) {
  InputFile in(file);
  const std::vector<uint8_t> bytes = in.read_all();
  if (bytes.empty()) throw Error(quoted(file) + ": empty file, expected CIFAR-10 records");
  if (bytes.size() % kCifarRecordBytes != 0)
    throw Error(quoted(file) + ": truncated record: " + std::to_string(bytes.size()) +
                " bytes is not a multiple of " + std::to_string(kCifarRecordBytes) +
                " (1 label byte + 3072 pixel bytes)");
  const int64_t records = static_cast<int64_t>(bytes.size()) / kCifarRecordBytes;
  std::vector<uint8_t> classes(records);
  d.pixels.reserve(d.pixels.size() + records * kCifarImageBytes);
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* rec = bytes.data() + r * kCifarRecordBytes;
    classes[r] = rec[0];
    // The record stores R, G, B planes, each row-major: already our C, H, W layout.
    d.pixels.insert(d.pixels.end(), rec + 1, rec + kCifarRecordBytes);
  }
  append_labels(d, classes, kCifarClasses, file, "record");
  return records;
}

// batches.meta.txt: one class name per line; blank lines (the file ends with some) skipped.
std::vector<std::string> read_cifar_class_names(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(quoted(file) + ": cannot open for reading");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(first, last - first + 1));
  }
  if (names.size() != static_cast<size_t>(kCifarClasses))
    throw Error(quoted(file) + ": expected " + std::to_string(kCifarClasses) +
                " class names, found " + std::to_string(names.size()));
  return names;
}

}  // namespace

Dataset load_idx(const fs::path& images, const fs::path& labels, const std::string& name,
                 int num_classes) {
  if (num_classes < 1 || num_classes > kMaxClasses)
    throw Error("load_idx(" + quoted(labels) + "): num_classes " + std::to_string(num_classes) +
                " is outside 1.." + std::to_string(kMaxClasses));
  IdxImages img = read_idx_images(images);
  const std::vector<uint8_t> classes = read_idx_labels(labels);
  if (static_cast<int64_t>(classes.size()) != img.count)
    throw Error("image/label count mismatch: " + quoted(images) + " has " +
                std::to_string(img.count) + " images but " + quoted(labels) + " has " +
                std::to_string(classes.size()) + " labels");
  Dataset d;
  d.name = name;
  d.channels = 1, d.height = img.height, d.width = img.width;
  d.pixels = std::move(img.pixels);
  append_labels(d, classes, num_classes, labels, "item");
  for (int c = 0; c < num_classes; ++c) d.class_names.push_back(std::to_string(c));
  d.official_train_size = d.size();
  return d;
}

Dataset load_fashion_mnist(const fs::path& dir) {
  Dataset train = load_idx(gz_or_raw(dir, "train-images-idx3-ubyte"),
                           gz_or_raw(dir, "train-labels-idx1-ubyte"), "fashion-mnist");
  const Dataset test = load_idx(gz_or_raw(dir, "t10k-images-idx3-ubyte"),
                                gz_or_raw(dir, "t10k-labels-idx1-ubyte"), "fashion-mnist-test");
  const int64_t train_size = train.size();
  Dataset d = concatenate(std::move(train), test);
  d.name = "fashion-mnist";
  d.official_train_size = train_size;
  d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return d;
}

Dataset load_cifar10(const fs::path& dir) {
  Dataset d;
  d.name = "cifar10";
  d.channels = 3, d.height = kCifarSide, d.width = kCifarSide;
  for (int b = 1; b <= 5; ++b)
    d.official_train_size +=
        append_cifar_batch(d, dir / ("data_batch_" + std::to_string(b) + ".bin"));
  append_cifar_batch(d, dir / "test_batch.bin");
  const fs::path meta = dir / "batches.meta.txt";
  if (fs::exists(meta))
    d.class_names = read_cifar_class_names(meta);
  else
    d.class_names = {"airplane", "automobile", "bird",  "cat",  "deer",
                     "dog",      "frog",       "horse", "ship", "truck"};
  return d;
}

}  // namespace hamster
