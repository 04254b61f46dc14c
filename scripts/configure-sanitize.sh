#!/usr/bin/env bash
# Configures build-sanitize/: clang, ASan + UBSan (any report fails), no LibTorch (the
# Eigen hashers lsh and itq only, the tests that need no deep hasher) and the libFuzzer
# targets. Used by scripts/sanitize.sh and scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DHAMSTER_WITH_TORCH=OFF -DHAMSTER_SANITIZE=ON -DHAMSTER_FUZZ=ON -DHAMSTER_BUILD_BENCH=OFF \
  > build-sanitize.log 2>&1 || { tail -n 30 build-sanitize.log; exit 1; }
