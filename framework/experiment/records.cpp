#include "framework/experiment/records.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "framework/error.h"

namespace hamster {

std::vector<nlohmann::json> read_records(const std::filesystem::path& file) {
  std::vector<nlohmann::json> records;
  // Reading a directory yields no lines, which would pass for "no results yet".
  if (std::filesystem::is_directory(file))
    throw Error(file.string() + ": is a directory, expected a results.jsonl file");
  std::ifstream in(file);
  // A file that exists but cannot be read must not pass for "no results yet": the next
  // write would replace it.
  if (!in && std::filesystem::exists(file)) throw Error("cannot read " + file.string());
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      records.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      throw Error(
          fmt::format("{}:{}: corrupt result record ({})", file.string(), number, e.what()));
    }
  }
  return records;
}

void with_results_lock(const std::filesystem::path& dir, const std::function<void()>& f) {
  const std::filesystem::path lock_path = dir / "results.lock";
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

std::string integer_field(const nlohmann::json& record, const char* key) {
  const nlohmann::json& v = record.at(key);
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  throw nlohmann::json::type_error::create(
      302, std::string("field '") + key + "' must be an integer, not " + v.type_name(), &v);
}

std::vector<nlohmann::json> latest_records(std::vector<nlohmann::json> records) {
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < records.size(); ++i)
    if (records[i].contains("cell_key")) last[records[i]["cell_key"].dump()] = i;
  std::vector<nlohmann::json> kept;
  for (size_t i = 0; i < records.size(); ++i)
    if (!records[i].contains("cell_key") || last[records[i]["cell_key"].dump()] == i)
      kept.push_back(std::move(records[i]));
  return kept;
}

}  // namespace hamster
