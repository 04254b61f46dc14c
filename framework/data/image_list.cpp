#include "framework/data/image_list.h"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "framework/error.h"

namespace hamster {

namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// One parsed line of a list file.
struct Entry {
  int line = 0;
  fs::path image;  // resolved
  LabelSet labels;
};

// "'list.txt' line 7: " — the prefix of every error about one line.
std::string at(const fs::path& list, int line) {
  return quoted(list) + " line " + std::to_string(line) + ": ";
}

std::vector<Entry> parse_list(const fs::path& list, const fs::path& image_root, int& classes) {
  if (!fs::exists(list)) throw Error(quoted(list) + ": list file not found");
  if (fs::is_directory(list)) throw Error(quoted(list) + ": is a directory, expected a list file");
  std::ifstream in(list);
  if (!in) throw Error(quoted(list) + ": cannot open for reading");
  const fs::path root = image_root.empty() ? list.parent_path() : image_root;
  std::vector<Entry> entries;
  classes = -1;  // set by the first line
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    std::istringstream fields(text);
    std::string path;
    if (!(fields >> path)) continue;  // blank line
    Entry e;
    e.line = line;
    e.image = fs::path(path).is_absolute() ? fs::path(path) : root / path;
    std::vector<std::string> tokens;
    for (std::string t; fields >> t;) tokens.push_back(t);
    const int n = static_cast<int>(tokens.size());
    if (classes < 0) {
      if (n == 0) throw Error(at(list, line) + "no labels after the image path '" + path + "'");
      if (n > kMaxClasses)
        throw Error(at(list, line) + std::to_string(n) + " labels, at most " +
                    std::to_string(kMaxClasses) + " classes are supported");
      classes = n;
    } else if (n != classes) {
      throw Error(at(list, line) + std::to_string(n) + " labels, expected " +
                  std::to_string(classes) + " (as on the first line)");
    }
    for (int c = 0; c < n; ++c) {
      if (tokens[c] == "1") {
        e.labels.set(c);
      } else if (tokens[c] != "0") {
        throw Error(at(list, line) + "label " + std::to_string(c + 1) + " is '" + tokens[c] +
                    "', expected 0 or 1");
      }
    }
    if (e.labels.empty())
      throw Error(at(list, line) + "image '" + path + "' has no label (all " + std::to_string(n) +
                  " are 0)");
    entries.push_back(std::move(e));
  }
  if (entries.empty()) throw Error(quoted(list) + ": no images listed");
  return entries;
}

struct StbiFree {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

// stb reads past its buffer on a 16-bit binary PNM whose pixels are cut short (the 16-byte
// "P5 5  1530 1530m" crashed it; found by fuzz_image_list), so binary PGM/PPM headers are
// read here first: only 8-bit ones whose file holds every pixel go on to stb.
// Returns what is wrong, or "".
std::string check_pnm(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[2] = {0, 0};
  if (!in.read(magic, 2) || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6')) return "";
  int64_t fields[3] = {0, 0, 0};  // width, height, maxval
  for (int64_t& field : fields) {
    int c = in.get();
    while (c == '#' || std::isspace(c)) {  // whitespace and comment lines between fields
      if (c == '#')
        while (c != EOF && c != '\n') c = in.get();
      c = in.get();
    }
    if (!std::isdigit(c)) return "image " + quoted(file) + ": unreadable PNM header";
    // Saturate at 2^30 so that width x height x 3 cannot overflow (fuzz_image_list).
    for (; std::isdigit(c); c = in.get()) field = std::min(field * 10 + (c - '0'), int64_t{1} << 30);
  }
  if (fields[2] < 1 || fields[2] > 255)
    return "image " + quoted(file) + ": PNM maxval " + std::to_string(fields[2]) +
           " (only 8-bit PNM, maxval 1..255, is read)";
  const int64_t channels = magic[1] == '6' ? 3 : 1;
  const int64_t data_start = in.tellg();
  std::error_code ec;
  const auto size = static_cast<int64_t>(fs::file_size(file, ec));
  if (ec || data_start < 0 || size - data_start < fields[0] * fields[1] * channels)
    return "image " + quoted(file) + ": truncated PNM (" + std::to_string(fields[0]) + "x" +
           std::to_string(fields[1]) + " announced)";
  return "";
}

// Decodes one image as RGB, resizes it to side x side and writes it as C, H, W planes.
// Returns what went wrong, or "".
std::string decode_into(const fs::path& file, int side, uint8_t* out) {
  // The error_code form: a name too long for the file system must be an answer, not a
  // filesystem_error thrown out of the parallel decode (found by fuzz_image_list).
  std::error_code ec;
  if (!fs::exists(file, ec))
    return "image " + quoted(file) +
           (ec ? " cannot be looked up (" + ec.message() + ")" : " not found");
  int w = 0, h = 0, channels_in_file = 0;
  // A header may announce far more pixels than any list image has (a 20-byte PPM claiming
  // 6665x66665 took stb over 10 s and 1.3 GB; found by fuzz_image_list): refuse it unread.
  constexpr int64_t kMaxPixels = int64_t{1} << 26;
  if (stbi_info(file.c_str(), &w, &h, &channels_in_file) &&
      static_cast<int64_t>(w) * h > kMaxPixels)
    return "image " + quoted(file) + " is " + std::to_string(w) + "x" + std::to_string(h) +
           ", more than " + std::to_string(kMaxPixels) + " pixels";
  if (std::string why = check_pnm(file); !why.empty()) return why;
  std::unique_ptr<unsigned char, StbiFree> rgb(
      stbi_load(file.c_str(), &w, &h, &channels_in_file, 3));
  if (!rgb) return "cannot decode image " + quoted(file) + " (" + stbi_failure_reason() + ")";
  // stb can decode a header it cannot read as a 0x0 image, which its resizer asserts on
  // (binary PNM ones are refused by check_pnm above; this guards every other format).
  if (w < 1 || h < 1)
    return "image " + quoted(file) + " has no pixels (decoded as " + std::to_string(w) + "x" +
           std::to_string(h) + ")";
  std::vector<unsigned char> resized(static_cast<size_t>(side) * side * 3);
  if (w == side && h == side) {
    std::copy(rgb.get(), rgb.get() + resized.size(), resized.begin());
  } else if (!stbir_resize_uint8(rgb.get(), w, h, 0, resized.data(), side, side, 0, 3)) {
    return "cannot resize image " + quoted(file) + " (" + std::to_string(w) + "x" +
           std::to_string(h) + ")";
  }
  const size_t plane = static_cast<size_t>(side) * side;
  for (size_t p = 0; p < plane; ++p)
    for (size_t ch = 0; ch < 3; ++ch) out[ch * plane + p] = resized[p * 3 + ch];
  return "";
}

// concepts.txt: one name per line, blank lines skipped.
std::vector<std::string> read_names(const fs::path& file, int expected) {
  std::ifstream in(file);
  if (!in) throw Error(quoted(file) + ": cannot open for reading");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(first, last - first + 1));
  }
  if (static_cast<int>(names.size()) != expected)
    throw Error(quoted(file) + ": " + std::to_string(names.size()) + " concept names, but the " +
                "lists have " + std::to_string(expected) + " label columns");
  return names;
}

}  // namespace

Dataset load_image_list(const fs::path& list, const ImageListOptions& options,
                        const std::string& name) {
  const int side = options.image_size;
  // Bounded so that N x 3 x side^2 stays far from overflow; real use is 32 to 224.
  if (side < 1 || side > 4096)
    throw Error(quoted(list) + ": image_size must be in 1..4096, got " + std::to_string(side));
  int classes = 0;
  const std::vector<Entry> entries = parse_list(list, options.image_root, classes);
  Dataset d;
  d.name = name;
  d.channels = 3, d.height = side, d.width = side;
  const auto n = static_cast<int64_t>(entries.size());
  d.pixels.resize(static_cast<size_t>(n * d.image_bytes()));
  std::vector<std::string> problems(static_cast<size_t>(n));
  tbb::parallel_for(int64_t{0}, n, [&](int64_t i) {
    problems[i] = decode_into(entries[i].image, side, d.pixels.data() + i * d.image_bytes());
  });
  // The first bad line in file order, whichever thread met it.
  for (int64_t i = 0; i < n; ++i)
    if (!problems[i].empty()) throw Error(at(list, entries[i].line) + problems[i]);
  for (const Entry& e : entries) d.labels.push_back(e.labels);
  for (int c = 0; c < classes; ++c) d.class_names.push_back(std::to_string(c));
  return d;
}

Dataset load_nuswide(const fs::path& dir, const ImageListOptions& options) {
  if (!fs::is_directory(dir))
    throw Error("dataset nuswide: " + quoted(dir) + " is not a folder (expected list.txt, or " +
                "database.txt and test.txt)");
  Dataset d;
  if (fs::exists(dir / "list.txt")) {
    d = load_image_list(dir / "list.txt", options, "nuswide");
  } else if (fs::exists(dir / "database.txt") && fs::exists(dir / "test.txt")) {
    d = load_image_list(dir / "database.txt", options, "nuswide");
    const int64_t database = d.size();
    const Dataset test = load_image_list(dir / "test.txt", options, "nuswide-test");
    if (test.num_classes() != d.num_classes())
      throw Error(quoted(dir / "test.txt") + ": " + std::to_string(test.num_classes()) +
                  " label columns, but database.txt has " + std::to_string(d.num_classes()));
    d = concatenate(std::move(d), test);
    d.official_train_size = database;
  } else {
    throw Error("dataset nuswide: " + quoted(dir) +
                " holds neither list.txt nor database.txt and test.txt");
  }
  if (fs::exists(dir / "concepts.txt"))
    d.class_names = read_names(dir / "concepts.txt", d.num_classes());
  return d;
}

}  // namespace hamster
