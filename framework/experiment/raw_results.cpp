#include "framework/experiment/raw_results.h"

#include <zlib.h>

#include <cstring>
#include <string>

#include "framework/error.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[4] = {'H', 'R', 'A', 'W'};
constexpr int32_t kVersion = 1;

void put(std::string& out, int32_t v) {
  unsigned char b[4];
  for (int i = 0; i < 4; ++i)
    b[i] = static_cast<unsigned char>(static_cast<uint32_t>(v) >> (8 * i));
  out.append(reinterpret_cast<const char*>(b), 4);
}

int32_t get(const unsigned char* p) {
  return static_cast<int32_t>(uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                              (uint32_t{p[3]} << 24));
}

// gzip (not bare zlib) so that gunzip and Python's gzip module read the files too.
std::string gzip(const std::string& data, const fs::path& file) {
  z_stream s{};
  if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error(file.string() + ": cannot start compression");
  std::string out(deflateBound(&s, data.size()), '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  if (status != Z_STREAM_END) throw Error(file.string() + ": compression failed");
  return out;
}

std::string gunzip(const fs::path& file) {
  if (!fs::exists(file)) throw Error(file.string() + ": raw results not found");
  gzFile in = gzopen(file.c_str(), "rb");
  if (in == nullptr) throw Error(file.string() + ": cannot open for reading");
  std::string out;
  char buf[1 << 16];
  int got;
  while ((got = gzread(in, buf, sizeof buf)) > 0) out.append(buf, got);
  int code = 0;
  const std::string problem = got < 0 ? gzerror(in, &code) : "";
  gzclose(in);
  if (got < 0) throw Error(file.string() + ": corrupt compressed data (" + problem + ")");
  return out;
}

}  // namespace

void write_raw_results(const fs::path& file, const RawResults& raw) {
  if (raw.top < 0 || raw.ranked.size() != static_cast<size_t>(raw.queries() * raw.top))
    throw Error(file.string() + ": raw results hold " + std::to_string(raw.ranked.size()) +
                " items for " + std::to_string(raw.queries()) +
                " queries x L = " + std::to_string(raw.top));
  std::string data(kMagic, 4);
  put(data, kVersion);
  put(data, static_cast<int32_t>(raw.queries()));
  put(data, static_cast<int32_t>(raw.top));
  data.reserve(data.size() + 4 * (raw.query_items.size() + raw.ranked.size()));
  for (int32_t v : raw.query_items) put(data, v);
  for (int32_t v : raw.ranked) put(data, v);
  fs::create_directories(file.parent_path());
  write_file_atomic(file, gzip(data, file));
}

RawResults read_raw_results(const fs::path& file) {
  const std::string data = gunzip(file);
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (data.size() < 16 || std::memcmp(p, kMagic, 4) != 0)
    throw Error(file.string() + ": not a hamster raw results file (expected magic HRAW)");
  if (get(p + 4) != kVersion)
    throw Error(file.string() + ": raw results version " + std::to_string(get(p + 4)) +
                ", expected " + std::to_string(kVersion));
  const int64_t nq = get(p + 8), top = get(p + 12);
  if (nq < 0 || top < 0)
    throw Error(file.string() + ": negative size in header (" + std::to_string(nq) +
                " queries, L = " + std::to_string(top) + ")");
  const size_t expected = 16 + 4 * static_cast<size_t>(nq + nq * top);
  if (data.size() != expected)
    throw Error(file.string() + ": truncated or oversized: " + std::to_string(nq) +
                " queries x L = " + std::to_string(top) + " need " + std::to_string(expected) +
                " bytes, found " + std::to_string(data.size()));
  RawResults raw;
  raw.top = top;
  raw.query_items.resize(nq);
  raw.ranked.resize(nq * top);
  p += 16;
  for (int64_t i = 0; i < nq; ++i, p += 4) raw.query_items[i] = get(p);
  for (int64_t i = 0; i < nq * top; ++i, p += 4) raw.ranked[i] = get(p);
  return raw;
}

}  // namespace hamster
