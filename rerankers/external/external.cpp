// external: a re-ranker written outside hamster (numpy, scipy, PyTorch: anything that reads
// and writes .npy), run as a command once per build's rerank() call, so a prototype joins
// the factorial grid beside the C++ plugins, timed and recorded like them.
//
// The command gets one argument, a folder holding
//   database.npy        float32 N x D, the database's embedding (`embedding`: feature or real)
//   queries.npy         float32 Q x D, the queries' rows of the same embedding
//   shortlists.npy      int64   Q x L, each query's stage-1 shortlist, best first
//   shortlist_scores.npy float32 Q x L, their Hamming distances
// (a shortlist shorter than L is padded with id -1 and score +inf), and must write
//   reranked.npy        int64   Q x L, each row a permutation of its shortlist row
// (padding kept at the end). hamster checks the shape and every row, and errors name the
// file, the row and the id. rerankers/external/alpha_qe.py is a worked example.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/npy.h"
#include "framework/params.h"
#include "framework/reranker.h"

namespace hamster {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the system's temporary directory, removed with this object.
class ScratchFolder {
 public:
  ScratchFolder() {
    static std::atomic<int> counter{0};
    path_ =
        fs::temp_directory_path() / fmt::format("hamster-external-{}-{}", ::getpid(), counter++);
    fs::create_directories(path_);
  }
  ~ScratchFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `command` (through the shell) and returns its exit status and the last lines it
// printed (stdout and stderr), for the error message when it fails.
std::pair<int, std::string> run_capturing(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw Error(fmt::format("external: cannot start '{}': {}", command, strerror(errno)));
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  constexpr size_t kTail = 2000;
  if (output.size() > kTail) output = "..." + output.substr(output.size() - kTail);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

NpyArray int64_matrix(const std::vector<Shortlist>& lists, int64_t width) {
  NpyArray a{"<i8", {static_cast<int64_t>(lists.size()), width}, {}};
  std::vector<int64_t> ids(lists.size() * width, -1);
  for (size_t q = 0; q < lists.size(); ++q)
    std::copy(lists[q].ids.begin(), lists[q].ids.end(), ids.begin() + q * width);
  a.bytes.resize(ids.size() * sizeof(int64_t));
  std::memcpy(a.bytes.data(), ids.data(), a.bytes.size());
  return a;
}

Embedding score_matrix(const std::vector<Shortlist>& lists, int64_t width) {
  Embedding m = Embedding::Constant(static_cast<int64_t>(lists.size()), width,
                                    std::numeric_limits<float>::infinity());
  for (size_t q = 0; q < lists.size(); ++q)
    for (size_t i = 0; i < lists[q].scores.size(); ++i) m(q, i) = lists[q].scores[i];
  return m;
}

// The ids of reranked.npy, checked against the shape the shortlists were written in.
std::vector<int64_t> read_reranked(const fs::path& file, int64_t rows, int64_t width) {
  if (!fs::exists(file))
    throw Error(fmt::format("external: the command wrote no {}", file.string()));
  const NpyArray a = load_npy(file);
  if (a.descr != "<i8" || a.shape.size() != 2 || a.shape[0] != rows || a.shape[1] != width)
    throw Error(
        fmt::format("external: {} is {} of shape ({}); expected int64 (<i8) of shape "
                    "({}, {}), the shortlists' shape",
                    file.string(), a.descr, fmt::join(a.shape, ", "), rows, width));
  std::vector<int64_t> ids(rows * width);
  std::memcpy(ids.data(), a.bytes.data(), ids.size() * sizeof(int64_t));
  return ids;
}

// The shortlist reordered as `row` says; an error unless `row` is a permutation of it
// followed by the same padding.
void reorder(Shortlist& list, const int64_t* row, int64_t width, int64_t q, const fs::path& file) {
  const int64_t size = list.size();
  std::vector<int64_t> expected(list.ids), got(row, row + size);
  std::sort(expected.begin(), expected.end());
  std::sort(got.begin(), got.end());
  const auto fail = [&](const std::string& why) {
    throw Error(fmt::format("external: row {} of {} is not a permutation of its shortlist: {}", q,
                            file.string(), why));
  };
  if (got != expected) {
    const auto [e, g] = std::mismatch(expected.begin(), expected.end(), got.begin());
    if (g != got.end() && std::binary_search(expected.begin(), expected.end(), *g))
      fail(fmt::format("id {} appears twice", *g));
    fail(fmt::format("id {} is not in it", g != got.end() ? *g : -1));
  }
  for (int64_t i = size; i < width; ++i)
    if (row[i] != -1) fail(fmt::format("position {} holds {} where the padding -1 was", i, row[i]));
  list.ids.assign(row, row + size);
  for (int64_t i = 0; i < size; ++i) list.scores[i] = static_cast<float>(i);  // rank = score
}

class ExternalRerank final : public Reranker {
 public:
  ExternalRerank(std::string command, std::string embedding)
      : command_(std::move(command)), embedding_(std::move(embedding)) {}

  void prepare(const RerankContext& ctx) override {
    const Embedding& db = pick(ctx.database, "database");
    folder_ = std::make_unique<ScratchFolder>();
    save_embedding(folder_->path() / "database.npy", db);
    dim_ = db.cols();
  }

  void rerank(const Encoded& queries, std::vector<Shortlist>& lists) const override {
    if (!folder_) throw Error("external: rerank() before prepare()");
    const Embedding& q = pick(queries, "queries");
    if (q.cols() != dim_ || q.rows() != static_cast<int64_t>(lists.size()))
      throw Error(
          fmt::format("external: {} query rows of {} dimensions for {} shortlists over a "
                      "database of {} dimensions",
                      q.rows(), q.cols(), lists.size(), dim_));
    int64_t width = 0;
    for (const Shortlist& l : lists) width = std::max(width, l.size());
    const fs::path& dir = folder_->path();
    save_embedding(dir / "queries.npy", q);
    save_npy(dir / "shortlists.npy", int64_matrix(lists, width));
    save_embedding(dir / "shortlist_scores.npy", score_matrix(lists, width));
    const fs::path out = dir / "reranked.npy";
    fs::remove(out);
    const std::string command = command_ + " " + shell_quoted(dir.string());
    const auto [status, output] = run_capturing(command);
    if (status != 0)
      throw Error(fmt::format("external: '{}' exited with status {}; its output:\n{}", command,
                              status, output));
    const std::vector<int64_t> ids = read_reranked(out, static_cast<int64_t>(lists.size()), width);
    for (size_t i = 0; i < lists.size(); ++i)
      reorder(lists[i], ids.data() + i * width, width, static_cast<int64_t>(i), out);
  }

 private:
  const Embedding& pick(const Encoded& e, const char* which) const {
    const Embedding& m = embedding_ == "real" ? e.real : e.features;
    if (m.size() == 0)
      throw Error(
          fmt::format("external: the {} have no '{}' embedding (a hasher without deep "
                      "features: use embedding: real)",
                      which, embedding_));
    return m;
  }

  std::string command_;
  std::string embedding_;
  std::unique_ptr<ScratchFolder> folder_;
  int64_t dim_ = 0;
};

const RegisterReranker kRegisterExternal(
    "external", "a re-ranker run as a command on .npy files (numpy prototypes in the grid)",
    {{"command", "",
      "the command; it gets a folder (database.npy, queries.npy, shortlists.npy, "
      "shortlist_scores.npy) and writes reranked.npy there"},
     {"embedding", "feature", "feature (the deep feature) or real (the hash layer's output)"}},
    [](const Params& p) {
      const std::string command = p.get_string("command");
      if (command.find_first_not_of(" \t") == std::string::npos)
        throw Error(
            "external: parameter 'command' is required (e.g. python3 "
            "rerankers/external/alpha_qe.py --n 5 --alpha 3)");
      const std::string embedding = p.get_string("embedding");
      if (embedding != "feature" && embedding != "real")
        throw Error("external: embedding must be 'feature' or 'real', got '" + embedding + "'");
      return std::make_unique<ExternalRerank>(command, embedding);
    });

}  // namespace
}  // namespace hamster
