#!/usr/bin/env bash
# A re-ranker is one folder: copies the source, adds rerankers/cosine_copy/ (feature/'s
# plugin under a new name, and a test of its own) and edits no other file; configures and
# builds that copy, and fails unless `hamster list` names the new plugin, `hamster list
# cosine_copy` shows its help, a config with `rerankers: all` plans a cell for it, and
# ctest finds and passes its test. Built without LibTorch, which the plugin does not need.
# Usage: tests/check_plugin_folder.sh [WORK_DIR]   (about 6 minutes on 2 cores)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
rm -rf "$work" && mkdir -p "$work/src"
start=$SECONDS
# The files of the checkout as git sees them (tracked, and new files it does not ignore).
git -C "$src" ls-files -z --cached --others --exclude-standard |
  (cd "$src" && tar --null -T - -cf -) | tar -C "$work/src" -xf -

plugin="$work/src/rerankers/cosine_copy"
test ! -e "$plugin" || { echo "plugin folder check: $plugin exists already"; exit 1; }
mkdir "$plugin"
sed -e 's/"feature"/"cosine_copy"/; s/FeatureRerank/CosineCopyRerank/g' \
  -e 's/kRegisterFeature/kRegisterCosineCopy/; s/feature re-ranker:/cosine_copy re-ranker:/g' \
  -e 's/^\/\/ feature:/\/\/ cosine_copy (a copy of feature, made by tests\/check_plugin_folder.sh):/' \
  "$src/rerankers/feature/feature.cpp" > "$plugin/cosine_copy.cpp"
grep -q '"cosine_copy"' "$plugin/cosine_copy.cpp" || { echo "plugin folder check: renaming failed"; exit 1; }
cat > "$plugin/test_cosine_copy.cpp" <<'CPP'
#include <doctest/doctest.h>

#include "tests/rerank_helpers.h"

using namespace hamster;
using namespace hamster::test;

TEST_CASE("cosine_copy: orders the shortlist by cosine similarity of the features") {
  // Database items at 0, 90, 40 and 10 degrees; the query at 3: nearest first.
  const Encoded db = encoded(rows_at_degrees({0, 90, 40, 10}));
  const Encoded q = encoded(rows_at_degrees({3}));
  const auto lists = rerank("cosine_copy", {}, db, q, {list_of({1, 2, 0, 3})});
  CHECK(lists[0].ids == std::vector<int64_t>{0, 3, 2, 1});
}
CPP

echo "plugin folder check: building a copy with rerankers/cosine_copy/ (log in $work/build.log)"
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DHAMSTER_WITH_TORCH=OFF \
  -DHAMSTER_BUILD_BENCH=OFF > "$work/build.log" 2>&1 || { tail -n 30 "$work/build.log"; exit 1; }
cmake --build "$work/build" -j "$(nproc)" --target hamster hamster_tests >> "$work/build.log" 2>&1 ||
  { grep -E -A5 "error" "$work/build.log" | head -n 40; exit 1; }
hamster="$work/build/experiments/hamster"

"$hamster" list | grep -E "^  cosine_copy +cosine similarity" ||
  { echo "plugin folder check: hamster list does not name cosine_copy"; exit 1; }
grep -q "^cosine_copy (re-ranker): " <<< "$("$hamster" list cosine_copy)" ||
  { echo "plugin folder check: hamster list cosine_copy shows no help"; exit 1; }
cat > "$work/all.yaml" <<YAML
name: all
dataset: fashion-mnist
protocol: fmnist-1
bits: [16]
hashers: [lsh]
rerankers: all
output: $work/results
YAML
# The plan is read whole before it is searched: `grep -q` on a pipe stops reading at the
# first match, and the dry run, still writing, would die of SIGPIPE (a failure under pipefail).
plan=$("$hamster" run "$work/all.yaml" --dry-run 2>&1)
grep -q "would run lsh/16b/seed0/cosine_copy" <<< "$plan" ||
  { echo "plugin folder check: rerankers: all plans no cosine_copy cell"; exit 1; }
(cd "$work/build" && ctest -N -R cosine_copy | grep -q "Total Tests: [1-9]") ||
  { echo "plugin folder check: ctest finds no cosine_copy test"; exit 1; }
(cd "$work/build" && ctest -R cosine_copy --output-on-failure)
echo "plugin folder check passed in $((SECONDS - start)) s: one new folder, found by CMake, hamster list, rerankers: all and ctest"
