#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang, ASan + UBSan, no LibTorch) in
# build-sanitize/ and runs each on its seed corpus for SECONDS (default 60), one after
# another. Prints, per target, how many inputs it ran and whether it crashed; a crashing
# input is kept as build-sanitize/fuzz-artifacts/<target>-crash-*. Exits 1 if any crashed.
# New inputs the fuzzer finds go to build-sanitize/fuzz-corpus/, never into the committed
# seed corpus.   Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(idx cifar10 npy image_list config results); fi

HAMSTER_SANITIZE_DEPS=1 scripts/install-deps.sh > /dev/null
scripts/configure-sanitize.sh
echo "fuzz: building ${targets[*]} (log in build-sanitize/fuzz-build.log)"
if ! cmake --build build-sanitize -j "$(nproc)" --target "${targets[@]/#/fuzz_}" \
    > build-sanitize/fuzz-build.log 2>&1; then
  grep -E -A5 "error" build-sanitize/fuzz-build.log | head -n 60
  echo "fuzz: build FAILED"
  exit 1
fi

mkdir -p build-sanitize/fuzz-artifacts
# The targets write each input to a file: keep those in memory when /dev/shm is there (a
# loaded disk otherwise halves the runs), in a folder of this script's own.
scratch=$(mktemp -d "$([[ -w /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/hamster-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch"
crashed=0
for t in "${targets[@]}"; do
  work=build-sanitize/fuzz-corpus/$t
  mkdir -p "$work"
  log=build-sanitize/fuzz-$t.log
  # -timeout: an input taking longer than 10 s counts as a hang; -rss_limit_mb: as a leak.
  if build-sanitize/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=3 \
      -artifact_prefix=build-sanitize/fuzz-artifacts/"$t"- \
      "$work" tests/fuzz/corpus/"$t" > "$log" 2>&1; then
    status="no crash"
  else
    status="CRASHED: $(grep -E -m1 "ERROR|runtime error|deadly signal|uncaught|terminate" "$log" || true)"
    status+=" (input: $(ls -t build-sanitize/fuzz-artifacts/"$t"-* 2> /dev/null | head -n1 || true); log: $log)"
    crashed=1
  fi
  runs=$(grep -E -o "stat::number_of_executed_units: *[0-9]+" "$log" | grep -E -o "[0-9]+$" || echo "?")
  corpus=$(ls "$work" | wc -l)
  printf "fuzz_%-11s %10s runs in %ss, corpus %s inputs: %s\n" "$t" "$runs" "$seconds" "$corpus" "$status"
done
exit "$crashed"
