#!/usr/bin/env bash
# Configures and builds hamster in build/ (Release). Extra arguments go to cmake.
# The full compiler output goes to build.log; errors are printed from there.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "build: configuring and compiling (log in build.log)"
if ! cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" > build.log 2>&1 ||
   ! cmake --build build -j "$(nproc)" >> build.log 2>&1; then
  grep -E -A5 "error|Error" build.log | head -n 80
  echo "build: FAILED (see build.log)"
  exit 1
fi
echo "build: done"
