#include "framework/experiment/result_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>

#include "framework/error.h"
#include "framework/experiment/record_table.h"
#include "framework/npy.h"

namespace hamster {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Every record of `file` in order, a redone cell as often as it was written; none if the
// file does not exist.
std::vector<json> read_all(const fs::path& file) {
  std::vector<json> records;
  // Reading a directory yields no lines, which would pass for "no results yet".
  if (fs::is_directory(file))
    throw Error(file.string() + ": is a directory, expected a results.jsonl file");
  std::ifstream in(file);
  // A file that exists but cannot be read must not pass for "no results yet": the next
  // write would replace it.
  if (!in && fs::exists(file)) throw Error("cannot read " + file.string());
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      records.push_back(json::parse(line));
    } catch (const json::exception& e) {
      throw Error(
          fmt::format("{}:{}: corrupt result record ({})", file.string(), number, e.what()));
    }
    try {
      schema_version_of(records.back());
    } catch (const Error& e) {
      throw Error(fmt::format("{}:{}: {}", file.string(), number, e.what()));
    }
  }
  return records;
}

// Each cell once, at its last record, in file order; records without a cell_key as they are.
std::vector<json> latest(std::vector<json> records) {
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < records.size(); ++i)
    if (records[i].contains("cell_key")) last[records[i]["cell_key"].dump()] = i;
  std::vector<json> kept;
  for (size_t i = 0; i < records.size(); ++i)
    if (!records[i].contains("cell_key") || last[records[i]["cell_key"].dump()] == i)
      kept.push_back(std::move(records[i]));
  return kept;
}

void write_records(const fs::path& dir, const std::vector<json>& records) {
  const fs::path file = dir / "results.jsonl";
  std::string text;
  for (const json& r : records) text += r.dump() + "\n";
  write_file_atomic(file, text);
  write_file_atomic(dir / "results.csv", format_records(records, "csv", file.string()));
}

}  // namespace

bool ResultStore::exists() const { return fs::exists(file()); }

std::vector<json> ResultStore::read() const {
  if (!exists()) throw Error("no results at " + file().string());
  return latest(read_all(file()));
}

std::vector<CellRecord> ResultStore::cells() const {
  std::vector<CellRecord> cells;
  for (const json& r : read()) try {
      cells.push_back(cell_record_from_json(r));
    } catch (const std::exception& e) {
      throw Error(fmt::format("{}: record of cell {}: {}", file().string(),
                              r.is_object() ? r.value("cell", std::string("?")) : "?", e.what()));
    }
  return cells;
}

std::map<std::string, json> ResultStore::by_cell_key() const {
  std::map<std::string, json> records;
  if (!fs::exists(dir_)) return records;
  locked([&] { records = keyed(latest(read_all(file()))); });
  return records;
}

std::map<std::string, json> ResultStore::keyed(std::vector<json> records) const {
  std::map<std::string, json> by_key;
  for (json& r : records) {
    if (!r.contains("cell_key"))
      throw Error(file().string() + ": a record has no cell_key (not written by hamster run?)");
    const std::string key = r["cell_key"].get<std::string>();  // before r is moved from
    by_key[key] = std::move(r);
  }
  return by_key;
}

void ResultStore::append(const CellRecord& record) const {
  const std::string line = to_json(record).dump() + "\n";
  locked([&] {
    const int fd = ::open(file().c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
    const bool ok =
        fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    if (fd >= 0) ::close(fd);
    if (!ok) throw Error("cannot append to " + file().string());
  });
}

void ResultStore::rewrite(const std::function<bool(std::vector<json>&)>& edit) const {
  if (!exists()) throw Error("no results at " + file().string());
  locked([&] {
    std::vector<json> all = read_all(file());
    const size_t written = all.size();
    std::vector<json> records = latest(std::move(all));
    const bool changed = edit(records);
    if (changed || records.size() != written || !fs::exists(dir_ / "results.csv"))
      write_records(dir_, records);
  });
}

void ResultStore::replace(const std::vector<json>& records) const {
  fs::create_directories(dir_);
  write_records(dir_, records);
}

void ResultStore::locked(const std::function<void()>& f) const {
  const fs::path lock_path = dir_ / "results.lock";
  const int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
    if (fd >= 0) ::close(fd);
    throw Error("cannot lock " + lock_path.string());
  }
  try {
    f();
  } catch (...) {
    ::close(fd);  // releases the lock
    throw;
  }
  ::close(fd);
}

std::string integer_field(const json& record, const char* key) {
  const json& v = record.at(key);
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  throw json::type_error::create(
      302, std::string("field '") + key + "' must be an integer, not " + v.type_name(), &v);
}

}  // namespace hamster
