#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "framework/codes/hamming_search.h"
#include "framework/error.h"
#include "framework/experiment/cell_record.h"
#include "framework/experiment/config.h"
#include "framework/experiment/export.h"
#include "framework/experiment/merge.h"
#include "framework/experiment/provenance.h"
#include "framework/experiment/results.h"
#include "framework/experiment/runner.h"
#include "tests/hasher_helpers.h"
#include "tests/helpers.h"
#include "tests/run_command.h"
#include "tests/synthetic.h"

using namespace hamster;
namespace fs = std::filesystem;

namespace {

// A tiny Fashion-MNIST-format dataset and a config over it: 2 hashers x 1 bit length x
// 2 re-rankers = 4 cells.
ExperimentConfig tiny_experiment(const fs::path& root) {
  const Dataset d = test::synthetic_images(60, 10, 9);
  test::write_fashion_mnist_dir(d, 500, root / "data");
  std::ostringstream yaml;
  yaml << "name: tiny\n"
       << "dataset: {name: fashion-mnist, path: " << (root / "data").string() << "}\n"
       << "protocol: stratified\n"
       << "split: {query_per_class: 5, train_per_class: 20}\n"
       << "bits: [16]\n"
       << "shortlist: 100\n"
       << "hashers:\n  - lsh\n  - name: dsh\n    params: {epochs: 2, batch_size: 50}\n"
       << "rerankers: [none, feature]\n"
       << "metrics: {map_at: [all, 100], precision_at: [10], recall_at: [100]}\n"
       << "output: " << (root / "results").string() << "\n";
  return parse_config(yaml.str(), "tiny.yaml");
}

TEST_CASE("runner: the progress line shows the first configured metric, never one not computed") {
  const fs::path root = test::fresh_temp_dir("runner-headline");
  const Dataset d = test::synthetic_images(60, 10, 9);
  test::write_fashion_mnist_dir(d, 500, root / "data");
  const std::string yaml =
      "name: headline\ndataset: {name: fashion-mnist, path: " + (root / "data").string() +
      "}\nprotocol: stratified\nsplit: {query_per_class: 5, "
      "train_per_class: 20}\nbits: [16]\nshortlist: 100\nhashers: [lsh]\n"
      "rerankers: [none]\nmetrics: {map_at: [100], precision_at: [10], recall_at: "
      "[100]}\noutput: " +
      (root / "results").string() + "\n";
  std::ostringstream log;
  REQUIRE(run_experiment(parse_config(yaml, "headline.yaml"), {}, log) == 1);
  CHECK(log.str().find("cell 1/1 lsh/16b/seed0/none: mAP@100 0.") != std::string::npos);
  CHECK(log.str().find("mAP@all") == std::string::npos);
}

std::vector<nlohmann::json> records(const fs::path& dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(dir / "results.jsonl");
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

using test::run_command;

double value_after(const std::string& text, const std::string& key) {
  const auto at = text.find(key + " ");
  REQUIRE(at != std::string::npos);
  return std::stod(text.substr(at + key.size() + 1));
}

}  // namespace

TEST_CASE("runner: grid - records - resume - filter - table") {
  const fs::path root = test::fresh_temp_dir("runner");
  const ExperimentConfig c = tiny_experiment(root);
  std::ostringstream log;
  CHECK(run_experiment(c, {}, log) == 4);
  CHECK(log.str().find("cell 4/4") != std::string::npos);
  CHECK(log.str().find("epoch 2/2") != std::string::npos);

  auto rs = records(c.output_dir);
  REQUIRE(rs.size() == 4);
  CHECK(rs[0]["cell"] == "lsh/16b/seed0/none");
  CHECK(rs[3]["cell"] == "dsh(batch_size=50,epochs=2)/16b/seed0/feature");
  CHECK(rs[0]["queries"] == 50);
  CHECK(rs[0]["database"] == 550);
  for (const auto& r : rs) {
    CHECK(r["provenance"]["config_hash"] == c.hash);
    CHECK(r["provenance"]["git_sha"].get<std::string>().size() > 0);
    // The CPU model and its instruction-set flags: trained codes depend on them.
    CHECK(r["provenance"]["cpu_model"].get<std::string>() != "");
    CHECK(r["provenance"]["cpu_flags"].get<std::string>().find("sse4_2") != std::string::npos);
    // The Hamming kernel stage 1 ran on, so a figure can be traced to it.
    CHECK(r["provenance"]["hamming_kernel"] == default_hamming_kernel().name);
    CHECK(r["metrics"]["mAP@all"].get<double>() > 0);
    CHECK(r["times"]["encode_images_per_second"].get<double>() > 0);
    CHECK(r["pr_curve"]["radius_recall"].size() == 17);
    // Code diagnostics of the build's database codes (values worked by hand in
    // test_diagnostics.cpp); here: present, in range, consistent.
    const auto& codes = r["code_diagnostics"];
    CHECK(codes["quantization_error"].get<double>() > 0);
    CHECK(codes["bit_balance"].get<double>() >= 0);
    CHECK(codes["bit_balance"].get<double>() <= 0.5);
    CHECK(codes["bit_correlation"].get<double>() >= 0);
    CHECK(codes["bit_correlation"].get<double>() <= 1);
    CHECK(codes["distinct_codes"] == r["distinct_database_codes"]);
  }
  // Every field a run writes survives the typed record (framework/experiment/cell_record.h):
  // a key the writer adds and CellRecord does not hold fails here.
  for (const auto& r : rs) {
    CHECK(r["schema_version"] == CellRecord::kSchemaVersion);
    CHECK(to_json(cell_record_from_json(r)) == r);
  }
  // One build's cells share its diagnostics.
  CHECK(rs[0]["code_diagnostics"] == rs[1]["code_diagnostics"]);
  CHECK(rs[0]["code_diagnostics"] != rs[2]["code_diagnostics"]);
  // Stage-1-only metrics do not depend on the re-ranker.
  CHECK(rs[0]["metrics"]["tie-mAP"] == rs[1]["metrics"]["tie-mAP"]);
  CHECK(fs::exists(c.output_dir / "split.txt"));
  CHECK(fs::exists(c.output_dir / "results.csv"));

  // A second run finds every cell done; --force redoes the filtered ones, reusing nothing
  // stale and producing the same numbers (seeded).
  std::ostringstream again;
  CHECK(run_experiment(c, {}, again) == 0);
  RunOptions force;
  force.force = true;
  force.filter = "dsh(batch_size=50,epochs=2)/16b/seed0/feature";
  // The model is retrained, so its "none" cell is redone too.
  CHECK(run_experiment(c, force, again) == 2);
  auto rs2 = records(c.output_dir);
  REQUIRE(rs2.size() == 4);
  CHECK(rs2[2]["metrics"]["mAP@all"] == rs[2]["metrics"]["mAP@all"]);

  const std::string md = test::unpadded(format_table(c.output_dir, "md"));
  CHECK(md.find("| hasher | bits | seed | reranker | L | mAP@all | mAP@100 |") == 0);
  CHECK(md.find("| lsh | 16 | 0 | feature | 100 |") != std::string::npos);
  // LSH does not train: its training time and speed are blank, not 0.
  const auto cells_of = [&](const std::string& start) {
    const size_t at = md.find(start);
    REQUIRE(at != std::string::npos);
    std::vector<std::string> cells;
    std::istringstream line(md.substr(at, md.find('\n', at) - at));
    for (std::string cell; std::getline(line, cell, '|');) cells.push_back(cell);
    return cells;
  };
  const std::vector<std::string> header = cells_of("| hasher |");
  const size_t speed = std::find(header.begin(), header.end(), " train img/s ") - header.begin();
  REQUIRE(speed < header.size());
  CHECK(cells_of("| lsh | 16 | 0 | none |").at(speed) == " ");  // "|" + blank + "|"
  CHECK(std::stod(cells_of("| dsh(batch_size=50,epochs=2) | 16 | 0 | none |").at(speed)) > 0);
  CHECK(format_table(c.output_dir, "latex").find("\\begin{tabular}") == 0);
  // Code diagnostics only on request, between the metrics and the times.
  CHECK(md.find("quant. error") == std::string::npos);
  const std::string with_codes = test::unpadded(run_command(
      std::string(HAMSTER_BINARY) + " table " + c.output_dir.string() + " --wide --diagnostics"));
  CHECK(with_codes.find("| quant. error | bit balance | bit corr. | distinct codes | train s |") !=
        std::string::npos);
  // The CLI's default is the compact table: the cell, the mAPs, P@100 (here, without it,
  // the first P@) and the re-ranking time, padded to its columns; L (one shortlist for the
  // whole folder) left out.
  const std::string compact = run_command(std::string(HAMSTER_BINARY) + " table " +
                                          c.output_dir.string() + " --diagnostics");
  CHECK(test::unpadded(compact).rfind(
            "| hasher | bits | seed | reranker | mAP@all | mAP@100 | P@10 | quant. error | bit "
            "balance | bit corr. | distinct codes | rerank ms/q |\n",
            0) == 0);
  size_t width = std::string::npos;
  for (size_t at = 0; at < compact.size(); at = compact.find('\n', at) + 1) {
    const size_t length = compact.find('\n', at) - at;
    if (width == std::string::npos) width = length;
    CHECK(length == width);  // every line padded to the same width
  }
  CHECK(width < 170);
  const std::string chosen =
      test::unpadded(run_command(std::string(HAMSTER_BINARY) + " table " + c.output_dir.string() +
                                 " --columns 'P@10,mAP@all'"));
  CHECK(chosen.rfind(
            "| hasher | bits | seed | reranker | P@10 | mAP@all |\n|---|---|---|---|---:|---:|\n",
            0) == 0);
  CHECK_THROWS_WITH_AS(
      [&] {
        TableOptions o;
        o.columns = {"mAP@5"};
        format_table(c.output_dir, o);
      }(),
      doctest::Contains("unknown table column 'mAP@5' (known: mAP@all, mAP@100, P@10"), Error);
  const auto& lsh_codes = rs2[0]["code_diagnostics"];
  CHECK(with_codes.find(fmt::format(
            "| {:.4f} | {:.4f} | {:.4f} | {} |", lsh_codes["quantization_error"].get<double>(),
            lsh_codes["bit_balance"].get<double>(), lsh_codes["bit_correlation"].get<double>(),
            lsh_codes["distinct_codes"].get<int64_t>())) != std::string::npos);
  CHECK_THROWS_WITH_AS(format_table(c.output_dir, "html"),
                       "unknown table format 'html' (known: md, csv, latex)", Error);
  fs::remove_all(root);
}

TEST_CASE("runner: a crash leaves a resumable state - corrupt records are named") {
  const fs::path root = test::fresh_temp_dir("runner-resume");
  const ExperimentConfig c = tiny_experiment(root);
  std::ostringstream log;
  RunOptions only_lsh;
  only_lsh.filter = "lsh";
  CHECK(run_experiment(c, only_lsh, log) == 2);  // as if the run died after the LSH cells
  RunOptions dry;
  dry.dry_run = true;
  std::ostringstream plan;
  CHECK(run_experiment(c, dry, plan) == 0);
  CHECK(plan.str().find("4 cells in the grid, 2 to run") != std::string::npos);
  // key=value filters: every term must hold; a plugin matches by name or full label.
  RunOptions terms = dry;
  terms.filter = "hasher=dsh,reranker=feature";
  std::ostringstream plan2;
  run_experiment(c, terms, plan2);
  CHECK(plan2.str().find("1 to run") != std::string::npos);
  CHECK(plan2.str().find("would run dsh(batch_size=50,epochs=2)/16b/seed0/feature") !=
        std::string::npos);
  terms.filter = "hasher=dsh(batch_size=50,epochs=2),bits=16";
  std::ostringstream plan3;
  run_experiment(c, terms, plan3);
  CHECK(plan3.str().find("2 to run") != std::string::npos);
  terms.filter = "bits=32";
  CHECK_THROWS_WITH_AS(run_experiment(c, terms, plan3), doctest::Contains("matches no cell"),
                       Error);
  terms.filter = "bits=16,colour=red";
  CHECK_THROWS_WITH_AS(run_experiment(c, terms, plan3),
                       doctest::Contains("'colour=red' is not a key=value term"), Error);
  CHECK(run_experiment(c, {}, log) == 2);
  CHECK(records(c.output_dir).size() == 4);
  for (const auto& entry : fs::recursive_directory_iterator(c.output_dir))
    CHECK(entry.path().extension() != ".tmp");

  // A dry run says what each pending build costs: an evaluation of its cached model, a fit
  // that resumes from its checkpoint (which must be readable), a fit from the start.
  std::string dsh_key, kept;
  for (const nlohmann::json& r : records(c.output_dir))
    if (r["hasher"] == "dsh")
      dsh_key = r["provenance"]["build_key"];
    else
      kept += r.dump() + "\n";
  REQUIRE(!dsh_key.empty());
  std::ofstream(c.output_dir / "results.jsonl") << kept;  // as if DSH's cells were never run
  const std::string dsh_build = "build dsh(batch_size=50,epochs=2)/16b/seed0: ";
  auto dry_plan = [&](const RunOptions& options) {
    std::ostringstream out;
    run_experiment(c, options, out);
    return out.str();
  };
  CHECK(dry_plan(dry).find(dsh_build + "model cached, evaluate only") != std::string::npos);
  fs::remove_all(c.output_dir / "cache" / dsh_key);
  CHECK(dry_plan(dry).find(dsh_build + "fit from the start") != std::string::npos);
  RunOptions dry_force = dry;
  dry_force.force = true;
  CHECK(dry_plan(dry_force).find(dsh_build + "retrain") != std::string::npos);
  // The checkpoint a DSH fit of this build's epochs and bits leaves (the runner removes it
  // once the model is stored; this one is kept, as if the run had died before that).
  const fs::path checkpoint = c.output_dir / "cache" / (dsh_key + ".checkpoint");
  FitContext ctx = test::quiet(0);
  ctx.checkpoint = checkpoint;
  const Dataset images = test::synthetic_images(10, 3, 1);
  test::make_hasher("dsh", 16, {{"epochs", "2"}, {"batch_size", "50"}})
      ->fit(images, test::iota_ids(images.size()), ctx);
  CHECK(dry_plan(dry).find(dsh_build + "fit resumes from " + checkpoint.string() +
                           " (after epoch 2/2, ") != std::string::npos);
  std::ofstream(checkpoint) << "not a checkpoint";
  const std::string unreadable = checkpoint.string() + ": cannot read the checkpoint";
  CHECK_THROWS_WITH_AS(dry_plan(dry), doctest::Contains(unreadable.c_str()), Error);
  fs::remove(checkpoint);
  CHECK(run_experiment(c, {}, log) == 2);

  std::ofstream(c.output_dir / "results.jsonl", std::ios::app) << "{\"cell_key\": \n";
  CHECK_THROWS_WITH_AS(run_experiment(c, {}, log),
                       doctest::Contains("results.jsonl:5: corrupt result record"), Error);
  fs::remove_all(root);
}

TEST_CASE(
    "runner: each build is evaluated as soon as its model is stored - a failed fit keeps the "
    "others' records") {
  const fs::path root = test::fresh_temp_dir("runner-eager");
  ExperimentConfig c = tiny_experiment(root);
  c.parallel_fits = 1;  // one fit after the other, LSH's first: the order below is fixed
  std::ostringstream first;
  REQUIRE(run_experiment(c, {}, first) == 4);
  // LSH's cells are evaluated before DSH's fit starts, not after every fit.
  const std::string log1 = first.str();
  const auto lsh_cell = log1.find("lsh/16b/seed0/none: mAP@all");
  const auto dsh_fit = log1.find("fit dsh(batch_size=50,epochs=2)/16b/seed0 (");
  REQUIRE(lsh_cell != std::string::npos);
  REQUIRE(dsh_fit != std::string::npos);
  CHECK(lsh_cell < dsh_fit);
  std::string dsh_key;
  for (const nlohmann::json& r : records(c.output_dir))
    if (r["hasher"] == "dsh") dsh_key = r["provenance"]["build_key"];
  REQUIRE(!dsh_key.empty());

  // Start over with DSH's fit bound to fail (an unreadable checkpoint): the run stops with
  // that error, and LSH's cells, whose model was stored, are on disk.
  fs::remove_all(c.output_dir);
  fs::create_directories(c.output_dir / "cache");
  const fs::path checkpoint = c.output_dir / "cache" / (dsh_key + ".checkpoint");
  std::ofstream(checkpoint) << "not a checkpoint";
  std::ostringstream second;
  const std::string unreadable = checkpoint.string() + ": cannot read the checkpoint";
  CHECK_THROWS_WITH_AS(run_experiment(c, {}, second), doctest::Contains(unreadable.c_str()), Error);
  std::set<std::string> cells;
  for (const nlohmann::json& r : records(c.output_dir)) cells.insert(r["cell"]);
  CHECK(cells == std::set<std::string>{"lsh/16b/seed0/none", "lsh/16b/seed0/feature"});
  fs::remove(checkpoint);
  // The resumed run does only DSH's cells.
  CHECK(run_experiment(c, {}, second) == 2);
  fs::remove_all(root);
}

TEST_CASE("runner: impossible shortlist and bad shard are refused") {
  const fs::path root = test::fresh_temp_dir("runner-bad");
  ExperimentConfig c = tiny_experiment(root);
  c.shortlist = 551;
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(run_experiment(c, {}, log),
                       "shortlist L = 551 is larger than the database (550 items)", Error);
  RunOptions shard;
  shard.shard = 2, shard.shards = 2;
  CHECK_THROWS_WITH_AS(run_experiment(c, shard, log), doctest::Contains("--shard 2/2"), Error);
  fs::remove_all(root);
}

TEST_CASE("provenance: names the Hamming kernel - HAMSTER_HAMMING_KERNEL forces it") {
  {
    const test::ScopedEnv forced("HAMSTER_HAMMING_KERNEL", "scalar");
    CHECK(collect_provenance().hamming_kernel == "scalar");
  }
  {
    const test::ScopedEnv unset("HAMSTER_HAMMING_KERNEL", nullptr);
    CHECK(collect_provenance().hamming_kernel == supported_hamming_kernels().back()->name);
  }
  // A kernel that does not exist stops a run before any training, and no record is written.
  const fs::path root = test::fresh_temp_dir("runner-kernel");
  const ExperimentConfig c = tiny_experiment(root);
  const test::ScopedEnv wrong("HAMSTER_HAMMING_KERNEL", "fast");
  std::ostringstream log;
  CHECK(test::error_message([&] {
          run_experiment(c, {}, log);
        }).find("HAMSTER_HAMMING_KERNEL: unknown Hamming kernel 'fast'") != std::string::npos);
  CHECK(log.str().find("epoch") == std::string::npos);
  CHECK(!fs::exists(c.output_dir / "results.jsonl"));
  fs::remove_all(root);
}

TEST_CASE("exported codes give the same mAP in an independent numpy computation") {
  const fs::path root = test::fresh_temp_dir("export");
  const ExperimentConfig c = tiny_experiment(root);
  std::ostringstream log;
  run_experiment(c, {}, log);
  CHECK(export_encodings(c, "dsh", root / "export", log) == 1);
  const fs::path dir = root / "export" / "dsh_batch_size_50_epochs_2__16b_seed0";
  REQUIRE(fs::exists(dir / "db_codes.npy"));
  const std::string out = run_command("/usr/bin/python3 " + std::string(HAMSTER_SOURCE_DIR) +
                                      "/scripts/check_map.py " + dir.string() + " --topk 100");
  const auto rs = records(c.output_dir);
  const auto& none = rs[2];
  REQUIRE(none["cell"] == "dsh(batch_size=50,epochs=2)/16b/seed0/none");
  CHECK(value_after(out, "mAP@all") ==
        doctest::Approx(none["metrics"]["mAP@all"].get<double>()).epsilon(1e-6));
  CHECK(value_after(out, "mAP@100") ==
        doctest::Approx(none["metrics"]["mAP@100"].get<double>()).epsilon(1e-6));
  CHECK_THROWS_WITH_AS(export_encodings(c, "nothing", root / "export", log),
                       "export: no build matches 'nothing'", Error);
  // key=value terms choose builds as they choose cells in `hamster run`.
  CHECK(export_encodings(c, "hasher=dsh,bits=16", root / "by-terms", log) == 1);
  CHECK(fs::exists(root / "by-terms" / "dsh_batch_size_50_epochs_2__16b_seed0" / "db_codes.npy"));
  CHECK_THROWS_WITH_AS(export_encodings(c, "hasher=dsh,bits=32", root / "none", log),
                       "export: no build matches 'hasher=dsh,bits=32'", Error);
  CHECK(test::error_message([&] {
          export_encodings(c, "reranker=none", root / "none", log);
        }).find("export chooses builds; 'reranker' does not apply") != std::string::npos);
  CHECK(!fs::exists(root / "none"));
  fs::remove_all(root);
}

TEST_CASE("runner: shards running at once on one folder keep every record") {
  const fs::path root = test::fresh_temp_dir("runner-shards");
  ExperimentConfig c = tiny_experiment(root);
  c.hashers.resize(1);  // lsh only: two builds (16 and 32 bits), four cells
  c.bits = {16, 32};
  RunOptions first, second;
  first.shard = 0, first.shards = 2;
  second.shard = 1, second.shards = 2;
  std::ostringstream log1, log2;
  int n1 = 0, n2 = 0;
  std::thread a([&] { n1 = run_experiment(c, first, log1); });
  std::thread b([&] { n2 = run_experiment(c, second, log2); });
  a.join(), b.join();
  CHECK(n1 == 2);
  CHECK(n2 == 2);
  CHECK(records(c.output_dir).size() == 4);
  fs::remove_all(root);
}

TEST_CASE("runner: duplicate builds and impossible metric cut-offs are refused") {
  const fs::path root = test::fresh_temp_dir("runner-dup");
  ExperimentConfig c = tiny_experiment(root);
  c.hashers = {c.hashers[0], c.hashers[0]};
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(
      run_experiment(c, {}, log),
      "tiny.yaml: builds lsh/16b/seed0 and lsh/16b/seed0 are the same (same hasher, effective "
      "parameters, bits and seed); list each once",
      Error);
  c = tiny_experiment(root);
  c.eval.precision_at = {551};
  CHECK_THROWS_WITH_AS(run_experiment(c, {}, log),
                       "metric cut-off k = 551 is larger than the database (550 items)", Error);
  fs::remove_all(root);
}

TEST_CASE("runner: a directory given as the config or as results.jsonl is named as one") {
  const fs::path root = test::fresh_temp_dir("runner-dirs");
  fs::create_directories(root / "config.yaml");
  CHECK_THROWS_WITH_AS(
      load_config(root / "config.yaml"),
      ("config " + (root / "config.yaml").string() + " is a directory, expected a YAML file")
          .c_str(),
      Error);
  fs::create_directories(root / "results" / "results.jsonl");
  CHECK_THROWS_WITH_AS(format_table(root / "results", "md"),
                       ((root / "results" / "results.jsonl").string() +
                        ": is a directory, expected a results.jsonl file")
                           .c_str(),
                       Error);
  fs::remove_all(root);
}

TEST_CASE("table: records written under other metric settings show blanks - not zeros") {
  const fs::path root = test::fresh_temp_dir("runner-blank");
  ExperimentConfig c = tiny_experiment(root);
  c.hashers.resize(1);
  c.rerankers.resize(1);
  std::ostringstream log;
  run_experiment(c, {}, log);
  // A new metric is not a new cell: the finished one stays as it was...
  c.eval.map_at = {kAll, 100, 10};
  CHECK(run_experiment(c, {}, log) == 0);
  // ...and a new re-ranker's cell, run under the new settings, has the new column.
  c.rerankers.push_back({"feature", {}, {}});
  CHECK(run_experiment(c, {}, log) == 1);
  const std::string csv = format_table(c.output_dir, "csv");
  CHECK(csv.find("mAP@all,mAP@100,mAP@10,") != std::string::npos);
  CHECK(csv.find(",,P@10") == std::string::npos);
  // The first record has no mAP@10: an empty field right after its mAP@100.
  const auto first_row = csv.substr(csv.find('\n') + 1);
  CHECK(first_row.find(",,") != std::string::npos);

  // Records are appended: a cell redone by a run that died before compacting appears
  // twice; the table shows its last record only.
  auto rs = records(c.output_dir);
  REQUIRE(rs.size() == 2);
  rs[0]["bits"] = 99;
  std::ofstream(c.output_dir / "results.jsonl", std::ios::app) << rs[0].dump() << "\n";
  const std::string md = test::unpadded(format_table(c.output_dir, "md"));
  CHECK(md.find("| lsh | 99 |") != std::string::npos);
  CHECK(md.find("| lsh | 16 | 0 | feature | 100 | 0.") != std::string::npos);  // the other cell
  CHECK(std::count(md.begin(), md.end(), '\n') == 4);  // header, rule, two cells
  fs::remove_all(root);
}

TEST_CASE("runner: validation queries come from the training items - never the queries") {
  const fs::path root = test::fresh_temp_dir("runner-validation");
  ExperimentConfig c = tiny_experiment(root);
  c.hashers.resize(1);  // lsh
  c.validation_per_class = 3;
  c.queries = "validation";
  std::ostringstream log;
  CHECK(run_experiment(c, {}, log) == 2);
  auto rs = records(c.output_dir);
  REQUIRE(rs.size() == 2);
  CHECK(rs[0]["queries"] == 30);    // 3 per class x 10 classes
  CHECK(rs[0]["database"] == 520);  // 550 without the 30 validation items
  CHECK(rs[0]["queries_from"] == "validation");
  std::ifstream split(c.output_dir / "split.txt");
  std::string text((std::istreambuf_iterator<char>(split)), std::istreambuf_iterator<char>());
  CHECK(text.find("\nvalidation ") != std::string::npos);
  // The same builds evaluated on the test queries are other cells.
  c.queries = "test";
  CHECK(run_experiment(c, {}, log) == 2);
  CHECK(records(c.output_dir).size() == 4);
  // The table tells tuning rows from test rows.
  const std::string md = test::unpadded(format_table(c.output_dir, "md"));
  CHECK(md.find("| hasher | bits | seed | reranker | L | queries | mAP@all |") == 0);
  CHECK(md.find("| lsh | 16 | 0 | none | 100 | validation |") != std::string::npos);
  CHECK(md.find("| lsh | 16 | 0 | none | 100 | test |") != std::string::npos);
  CHECK_THROWS_WITH_AS(
      parse_config("name: x\nqueries: validation\nhashers: [lsh]\nrerankers: [none]\n", "v.yaml"),
      doctest::Contains("validation_per_class > 0"), Error);
  fs::remove_all(root);
}

TEST_CASE("runner: a shared artefact's build is announced with the last build's time") {
  const fs::path root = test::fresh_temp_dir("runner-estimate");
  ExperimentConfig c = tiny_experiment(root);
  c.hashers.resize(1);  // lsh
  c.bits = {16, 32};
  c.rerankers = {{"diffusion", {{"k", "10"}}, {}}};
  std::ostringstream log;
  CHECK(run_experiment(c, {}, log) == 2);
  const std::string text = log.str();
  // The first build has nothing to go by; the second gives the first one's seconds. The two
  // fits run at once, so either build may be evaluated first.
  auto line_at = [&](size_t at) { return text.substr(at, text.find('\n', at) - at); };
  const std::string announce = "building shared artefact knn-feature-k10";
  const auto first = text.find(announce);
  REQUIRE(first != std::string::npos);
  const std::string first_line = line_at(first);
  CAPTURE(first_line);
  const bool sixteen_first = first_line.find("(lsh/16b/seed0)") != std::string::npos;
  CHECK((sixteen_first || first_line.find("(lsh/32b/seed0)") != std::string::npos));
  CHECK(first_line.find("about") == std::string::npos);
  const auto second = text.find(announce, first + 1);
  REQUIRE(second != std::string::npos);
  const std::string line = line_at(second);
  CAPTURE(line);
  CHECK(line.find(sixteen_first ? "(lsh/32b/seed0): about " : "(lsh/16b/seed0): about ") !=
        std::string::npos);
  CHECK(line.size() > 23);
  CHECK(line.substr(line.size() - 23) == "s, as in the last build");
  fs::remove_all(root);
}

TEST_CASE("runner: a re-ranker added to a finished grid runs alone on the cached model and graph") {
  const fs::path root = test::fresh_temp_dir("runner-add");
  ExperimentConfig c = tiny_experiment(root);
  c.hashers.resize(1);    // lsh
  c.rerankers.resize(1);  // none
  std::ostringstream first;
  CHECK(run_experiment(c, {}, first) == 1);
  c.rerankers.push_back({"diffusion", {{"k", "10"}}, {}});
  std::ostringstream second;
  CHECK(run_experiment(c, {}, second) == 1);  // only the new cell
  CHECK(second.str().find("fit ") == std::string::npos);
  CHECK(second.str().find("shared artefact knn-feature-k10") != std::string::npos);
  CHECK(second.str().find("built in") != std::string::npos);
  // A third re-ranker over the same graph loads it from the build's cache. A dry run says
  // so before any data loads: the graph is cached, the eigenpairs (memory only) are not.
  c.rerankers.push_back({"spectral", {{"k", "10"}, {"rank", "20"}}, {}});
  std::ostringstream plan;
  CHECK(run_experiment(c, {true}, plan) == 0);
  const std::string graph = "knn-feature-k10-hnsw-M16-efc100-efs0-seed100.bin";
  CHECK(plan.str().find("    artefact " + graph + ": cached\n") != std::string::npos);
  const auto eigen = plan.str().find(
      "    artefact eigen-affinity-knn-feature-k10-hnsw-M16-efc100-efs0-seed100-gamma3-mutual0-"
      "rank20-subspace: not cached\n");
  const auto would_run = plan.str().find("would run lsh/16b/seed0/spectral");
  REQUIRE(eigen != std::string::npos);
  REQUIRE(would_run != std::string::npos);
  CHECK(eigen < would_run);   // a build's artefacts, then its cells
  std::ostringstream forced;  // --force retrains the model, and its cache goes with it
  CHECK(run_experiment(c, {true, true}, forced) == 0);
  CHECK(forced.str().find("    artefact " + graph + ": not cached\n") != std::string::npos);
  std::ostringstream third;
  CHECK(run_experiment(c, {}, third) == 1);
  CHECK(third.str().find("fit ") == std::string::npos);
  // Announced as it starts, its time when done, both before the cell's line.
  const std::string log = third.str();
  const auto announced = log.find("loading shared artefact knn-feature-k10");
  REQUIRE(announced != std::string::npos);
  const auto done = log.find("shared artefact knn-feature-k10", log.find('\n', announced));
  REQUIRE(done != std::string::npos);
  CHECK(log.substr(done, log.find('\n', done) - done).find("loaded in") != std::string::npos);
  CHECK(done < log.find("cell 1/1"));
  const auto rs = records(c.output_dir);
  REQUIRE(rs.size() == 3);
  CHECK(rs[2]["artefacts"].size() >= 2);  // graph, affinity, eigenpairs...
  CHECK(rs[2]["times"]["artefact_seconds"].get<double>() > 0);
  // A re-ranker's error names the cell it came from.
  c.rerankers = {{"spectral", {{"k", "10"}, {"rank", "100000"}}, {}}};
  std::ostringstream fourth;
  CHECK_THROWS_WITH_AS(run_experiment(c, {}, fourth),
                       doctest::Contains("cell lsh/16b/seed0/spectral(k=10,rank=100000): "), Error);
  fs::remove_all(root);
}

namespace {

// The cache folder of the one build whose folder holds `file`.
fs::path cache_holding(const fs::path& results, const std::string& file) {
  for (const auto& e : fs::directory_iterator(results / "cache"))
    if (fs::exists(e.path() / file)) return e.path();
  FAIL("no cache folder holds " << file);
  return {};
}

void flip_byte(const fs::path& file, uintmax_t at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  const char byte = static_cast<char>(f.get() ^ 0x01);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(byte);
}

}  // namespace

TEST_CASE("runner: a cached model that no longer matches its manifest is refused naming the file") {
  const fs::path root = test::fresh_temp_dir("runner-manifest");
  const ExperimentConfig c = tiny_experiment(root);
  std::ostringstream log;
  CHECK(run_experiment(c, {}, log) == 4);
  const fs::path lsh = cache_holding(c.output_dir, "mean.npy");
  const fs::path dsh = cache_holding(c.output_dir, "model.pt");
  // The manifest lists every file of the folder with its size, hash and npy shape.
  const auto manifest = nlohmann::json::parse(std::ifstream(lsh / "manifest.json"));
  REQUIRE(manifest["files"].size() == 3);
  CHECK(manifest["files"][0]["path"] == "fit.json");
  CHECK(manifest["files"][1]["path"] == "mean.npy");
  CHECK(manifest["files"][1]["dtype"] == "<f4");
  CHECK(manifest["files"][1]["shape"] == nlohmann::json::array({1, 784}));
  CHECK(manifest["files"][1]["bytes"] == fs::file_size(lsh / "mean.npy"));
  CHECK(manifest["files"][2]["path"] == "projection.npy");
  for (const auto& e : fs::directory_iterator(c.output_dir / "cache"))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);

  // Every cell redone from the cache: the models are loaded again.
  const auto rerun = [&](const RunOptions& options = {}) {
    fs::remove(c.output_dir / "results.jsonl");
    return test::error_message([&] { run_experiment(c, options, log); });
  };
  flip_byte(lsh / "mean.npy", 1000);
  std::string msg = rerun();
  CHECK(msg.rfind((lsh / "mean.npy").string() + ": content hash ", 0) == 0);
  CHECK(msg.find("the cached model of lsh/16b/seed0 is damaged: rerun with --force") !=
        std::string::npos);
  // --force retrains the damaged build; the run is whole again.
  CHECK(rerun({false, true, "hasher=lsh"}).empty());
  CHECK(rerun().empty());
  CHECK(records(c.output_dir).size() == 4);

  flip_byte(dsh / "model.pt", fs::file_size(dsh / "model.pt") / 2);
  msg = rerun();
  CHECK(msg.rfind((dsh / "model.pt").string() + ": content hash ", 0) == 0);
  CHECK(msg.find("rerun with --force") != std::string::npos);
  CHECK(rerun({false, true, "hasher=dsh"}).empty());

  fs::resize_file(lsh / "projection.npy", fs::file_size(lsh / "projection.npy") - 4);
  msg = rerun();
  CHECK(msg.rfind((lsh / "projection.npy").string() + ": ", 0) == 0);
  CHECK(msg.find(" bytes, but " + (lsh / "manifest.json").string() + " says ") !=
        std::string::npos);
  fs::remove(lsh / "projection.npy");
  CHECK(rerun().rfind((lsh / "projection.npy").string() + ": missing, but listed in", 0) == 0);
  // A folder without a manifest (as older versions wrote them) is not trusted either.
  fs::remove(lsh / "manifest.json");
  msg = rerun();
  CHECK(msg.rfind((lsh / "manifest.json").string() + ": missing: the cached model of lsh", 0) == 0);
  CHECK(msg.find("rerun with --force") != std::string::npos);
  std::ofstream(lsh / "manifest.json") << "{\"manifest\": 1, \"files\": [{\"path\": 3}]}";
  CHECK(rerun().rfind((lsh / "manifest.json").string() + ": corrupt manifest", 0) == 0);
  CHECK(rerun({false, true, "hasher=lsh"}).empty());
  fs::remove_all(root);
}

TEST_CASE("command line: --shard takes whole numbers only") {
  const fs::path root = test::fresh_temp_dir("cli-shard");
  std::ofstream(root / "c.yaml") << "name: c\nhashers: [lsh]\nrerankers: [none]\noutput: "
                                 << (root / "results").string() << "\n";
  for (const std::string bad : {"1/2x", "a/2", "1", "1/"}) {
    CAPTURE(bad);
    const std::string command = std::string(HAMSTER_BINARY) + " run " + (root / "c.yaml").string() +
                                " --dry-run --shard " + bad + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buf[256];
    while (fgets(buf, sizeof buf, pipe)) out += buf;
    CHECK(pclose(pipe) != 0);
    CHECK(out.find("--shard expects I/N, got '" + bad + "'") != std::string::npos);
  }
  fs::remove_all(root);
}

TEST_CASE("command line: a bare hamster prints its help - list shows a line per plugin or one") {
  const std::string bin(HAMSTER_BINARY);
  const std::string help = test::run_command(bin);
  CHECK(help.find("Subcommands:") != std::string::npos);
  CHECK(help.find("export") != std::string::npos);
  const std::string all = test::run_command(bin + " list");
  CHECK(all.find("  spectral           fast spectral ranking (Iscen et al. 2018)\n") !=
        std::string::npos);
  CHECK(all.find("epochs") == std::string::npos);  // parameters only per plugin
  const std::string one = test::run_command(bin + " list diffusion");
  CHECK(one.rfind("diffusion (re-ranker): truncated diffusion", 0) == 0);
  CHECK(one.find("  alpha (default 0.99): ") != std::string::npos);
  FILE* pipe = popen((bin + " list diffuson 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  CHECK(pclose(pipe) != 0);
  CHECK(out.rfind("error: no plugin 'diffuson' (known: csq,", 0) == 0);
}

namespace {

// metrics per cell id, for comparing two runs of the same grid.
std::map<std::string, nlohmann::json> metrics_by_cell(const fs::path& dir) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& r : records(dir)) out[r.at("cell").get<std::string>()] = r.at("metrics");
  return out;
}

}  // namespace

TEST_CASE("merge: two shards run apart and merged equal one unsharded run") {
  const fs::path root = test::fresh_temp_dir("runner-merge");
  ExperimentConfig whole = tiny_experiment(root);
  whole.bits = {16, 32};  // 2 hashers x 2 lengths = 4 builds, 8 cells
  std::ostringstream log;
  CHECK(run_experiment(whole, {}, log) == 8);

  std::vector<fs::path> shard_dirs;
  for (int s = 0; s < 2; ++s) {
    ExperimentConfig part = whole;
    part.output_dir = root / ("shard" + std::to_string(s)) / "tiny";
    RunOptions opt;
    opt.shard = s, opt.shards = 2;
    CHECK(run_experiment(part, opt, log) == 4);
    shard_dirs.push_back(part.output_dir);
  }
  const std::string out =
      run_command(std::string(HAMSTER_BINARY) + " merge " + shard_dirs[0].string() + " " +
                  shard_dirs[1].string() + " --out " + (root / "merged").string() + " 2>&1");
  CHECK(out.find("merged 8 cells from 2 folders") != std::string::npos);
  const auto merged = metrics_by_cell(root / "merged");
  CHECK(merged.size() == 8);
  CHECK(merged == metrics_by_cell(whole.output_dir));
  CHECK(fs::exists(root / "merged" / "results.csv"));
  CHECK(fs::exists(root / "merged" / "split.txt"));
  // Raw rankings come along, so the merged folder can be re-evaluated on its own.
  for (const auto& r : records(root / "merged"))
    CHECK(fs::exists(root / "merged" / r["raw"].get<std::string>()));

  // A shard of another split is refused, naming both files.
  std::ofstream(shard_dirs[1] / "split.txt") << "protocol stratified\nseed 99\n";
  CHECK_THROWS_WITH_AS(merge_results(shard_dirs, root / "bad"),
                       doctest::Contains("hold different splits"), Error);
  fs::remove_all(root);
}

TEST_CASE("runner: a run killed mid-grid with SIGKILL resumes to the results of a clean run") {
  const fs::path root = test::fresh_temp_dir("runner-kill");
  const ExperimentConfig reference = tiny_experiment(root);  // writes the dataset too
  // The same grid as a file, over more code lengths so that there is a middle to kill in.
  const fs::path config = root / "kill.yaml";
  {
    std::ofstream out(config);
    out << "name: killed\n"
        << "dataset: {name: fashion-mnist, path: " << (root / "data").string() << "}\n"
        << "protocol: stratified\nsplit: {query_per_class: 5, train_per_class: 20}\n"
        << "bits: [8, 16, 24, 32]\nshortlist: 100\nparallel_fits: 1\n"
        << "hashers:\n  - name: dsh\n    params: {epochs: 3, batch_size: 50}\n  - lsh\n"
        << "rerankers: [none, feature]\n"
        << "metrics: {map_at: [all, 100], precision_at: [10], recall_at: [100]}\n"
        << "output: " << (root / "results").string() << "\n";
  }
  const fs::path killed = root / "results" / "killed";
  const std::string command = std::string(HAMSTER_BINARY) + " run " + config.string();
  // Start the run as a real child process and SIGKILL it once some, not all, of its work
  // is on disk (the first epoch's checkpoint, or the first trained model).
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    freopen((root / "killed.log").c_str(), "w", stderr);
    freopen("/dev/null", "w", stdout);
    execl(HAMSTER_BINARY, HAMSTER_BINARY, "run", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool killed_mid_grid = false;
  for (int i = 0; i < 6000 && !killed_mid_grid; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!fs::exists(killed / "cache")) continue;
    for (const auto& e : fs::directory_iterator(killed / "cache"))
      if (fs::exists(e.path() / "fit.json") || e.path().extension() == ".checkpoint")
        killed_mid_grid = true;
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(killed_mid_grid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(records(killed).size() < 16);

  // Resume, then run the same grid cleanly into another folder and compare.
  run_command(command + " > /dev/null 2>&1");
  CHECK(records(killed).size() == 16);
  // Every fit finished and stored: no checkpoint or temporary file is left in the cache.
  for (const auto& e : fs::directory_iterator(killed / "cache"))
    CHECK_MESSAGE(fs::exists(e.path() / "fit.json"), e.path().string());
  ExperimentConfig clean = load_config(config);
  clean.output_dir = root / "clean" / "killed";
  std::ostringstream log;
  CHECK(run_experiment(clean, {}, log) == 16);
  CHECK(metrics_by_cell(killed) == metrics_by_cell(clean.output_dir));
  (void)reference;
  fs::remove_all(root);
}

TEST_CASE("runner: a datasets list runs the grid on each - records and table name the dataset") {
  const fs::path root = test::fresh_temp_dir("runner-datasets");
  test::write_fashion_mnist_dir(test::synthetic_images(60, 10, 9), 500, root / "a");
  test::write_fashion_mnist_dir(test::synthetic_images(60, 10, 4), 500, root / "b");
  std::ostringstream yaml;
  yaml << "name: two\n"
       << "datasets:\n"
       << "  - {name: fashion-mnist, path: " << (root / "a").string() << ", protocol: stratified}\n"
       << "  - {name: fashion-mnist, path: " << (root / "b").string() << ", protocol: fmnist-2}\n"
       << "split: {query_per_class: 5, train_per_class: 20}\n"
       << "bits: [16]\nshortlist: 50\nhashers: [lsh]\nrerankers: [none, feature]\n"
       << "metrics: {map_at: [all], precision_at: [10], recall_at: [50]}\n"
       << "output: " << (root / "results").string() << "\n";
  const ExperimentConfig c = parse_config(yaml.str(), "two.yaml");
  REQUIRE(c.datasets.size() == 2);
  std::ostringstream log;
  CHECK(run_experiment(c, {}, log) == 4);
  const auto rs = records(c.output_dir);
  REQUIRE(rs.size() == 4);
  std::set<std::string> protocols, ids;
  for (const auto& r : rs) {
    protocols.insert(r.at("protocol").get<std::string>());
    ids.insert(r.at("cell").get<std::string>());
  }
  CHECK(protocols == std::set<std::string>{"stratified", "fmnist-2"});
  CHECK(ids.count("fmnist-2/lsh/16b/seed0/feature") == 1);
  CHECK(fs::exists(c.output_dir / "split-stratified.txt"));
  CHECK(fs::exists(c.output_dir / "split-fmnist-2.txt"));
  const std::string table = test::unpadded(format_table(c.output_dir, "md"));
  CHECK(table.rfind("| dataset | hasher |", 0) == 0);
  CHECK(table.find("| fmnist-2 | lsh | 16 |") != std::string::npos);
  // A filter on one dataset runs that dataset's cells only.
  RunOptions only;
  only.filter = "protocol=fmnist-2,reranker=none";
  only.force = true;
  CHECK(run_experiment(c, only, log) == 2);  // --force redoes the build's cells
  // results.jsonl stays in the config's order: running the second dataset alone does not
  // move its records ahead of the first's.
  std::vector<std::string> order;
  for (const auto& r : records(c.output_dir)) order.push_back(r.at("cell").get<std::string>());
  CHECK(order == std::vector<std::string>{
                     "stratified/lsh/16b/seed0/none", "stratified/lsh/16b/seed0/feature",
                     "fmnist-2/lsh/16b/seed0/none", "fmnist-2/lsh/16b/seed0/feature"});
  // A folder out of order (merged shards, an older hamster) is put back in order by a
  // re-run that has nothing to run.
  {
    auto rs_now = records(c.output_dir);
    std::ofstream reversed(c.output_dir / "results.jsonl", std::ios::trunc);
    for (auto it = rs_now.rbegin(); it != rs_now.rend(); ++it) reversed << it->dump() << "\n";
  }
  CHECK(run_experiment(c, {}, log) == 0);
  std::vector<std::string> reordered;
  for (const auto& r : records(c.output_dir)) reordered.push_back(r.at("cell").get<std::string>());
  CHECK(reordered == order);
  CHECK_THROWS_WITH_AS(parse_config("name: t\ndataset: cifar10\ndatasets: [{name: cifar10}]\n"
                                    "hashers: [lsh]\nrerankers: [none]\n",
                                    "d.yaml"),
                       "d.yaml: datasets: give either datasets: or dataset:/protocol:, not both",
                       Error);
  fs::remove_all(root);
}

TEST_CASE("runner: a dry run checks sizes against the split before any data loads") {
  // The default Fashion-MNIST files: fmnist-1 gives 69,000 database items (68,500 with 50
  // validation items per class set aside), fmnist-2 60,000. Nothing here reads the data.
  RunOptions dry;
  dry.dry_run = true;
  std::ostringstream log;
  const auto error_of = [&](const std::string& yaml) {
    return test::error_message([&] {
      run_experiment(parse_config("name: sizes\nhashers: [lsh]\n" + yaml, "s.yaml"), dry, log);
    });
  };
  CHECK(error_of("rerankers: [{name: spectral, params: {rank: 100000}}]\n")
            .find("cell lsh/16b/seed0/spectral(rank=100000): rank = 100000 must be below the "
                  "database size (fmnist-1 on fashion-mnist gives a database of 69000 items)") !=
        std::string::npos);
  CHECK(error_of("rerankers: [{name: diffusion, params: {k: 69000}}]\n").find("k = 69000") !=
        std::string::npos);
  CHECK(error_of("shortlist: 69000\nvalidation_per_class: 50\nrerankers: [none]\n")
            .find("shortlist L = 69000 is larger than the database (fmnist-1 on fashion-mnist "
                  "gives a database of 68500 items)") != std::string::npos);
  CHECK(error_of("protocol: fmnist-2\nrerankers: [none]\nmetrics: {map_at: [65000]}\n")
            .find("metric cut-off k = 65000 is larger than the database (fmnist-2 on "
                  "fashion-mnist gives a database of 60000 items)") != std::string::npos);
  // Within the sizes, and for files elsewhere (whose size only loading tells), it passes.
  CHECK(error_of("rerankers: [{name: spectral, params: {rank: 1000}}]\n").empty());
  CHECK(error_of("dataset: {name: fashion-mnist, path: /elsewhere}\nshortlist: 69000\n"
                 "rerankers: [none]\n")
            .empty());
}
