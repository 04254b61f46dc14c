#!/usr/bin/env bash
# The sanitizer pass of CI: everything outside LibTorch built with clang under ASan + UBSan
# (-fno-sanitize-recover=all: any report fails its test), its test suite run, then a fuzz
# smoke pass of every reader (HAMSTER_FUZZ_SECONDS each, default 20). Takes about
# 15 minutes on 2 cores from a clean build-sanitize/.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
HAMSTER_SANITIZE_DEPS=1 scripts/install-deps.sh
scripts/configure-sanitize.sh
echo "sanitize: building the tests (log in build-sanitize.log)"
if ! cmake --build build-sanitize -j "$(nproc)" --target hamster_tests hamster \
    >> build-sanitize.log 2>&1; then
  grep -E -A5 "error" build-sanitize.log | head -n 60
  echo "sanitize: build FAILED"
  exit 1
fi
built=$SECONDS
# Leak checks stay on; a report anywhere aborts the process, which fails the test.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build-sanitize --output-on-failure -j "$(nproc)" --timeout 900
tested=$SECONDS
scripts/fuzz.sh "${HAMSTER_FUZZ_SECONDS:-20}"
echo "sanitize: build $((built - start)) s, tests $((tested - built)) s, fuzz smoke $((SECONDS - tested)) s"
