#!/usr/bin/env bash
# Configures and builds hamster in build/ (Release). Extra arguments go to cmake.
# HAMSTER_BUILD_TARGETS (e.g. "hamster") builds only those targets, not the tests and
# benches (the quickstart).
# The full compiler output goes to build.log; errors are printed from there.
# Dependencies come from the system, or from CMAKE_PREFIX_PATH (a conda environment, a
# folder of extracted packages). HAMSTER_TORCH_FROM_PYTHON=1 uses the LibTorch inside
# python3's PyTorch (with CUDA when that PyTorch has it) instead of Debian's.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${HAMSTER_TORCH_FROM_PYTHON:-0}" == 1 ]]; then
  torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') || {
    echo "build: HAMSTER_TORCH_FROM_PYTHON=1 but python3 cannot import torch"
    exit 1
  }
  export CMAKE_PREFIX_PATH="$torch_prefix${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  echo "build: LibTorch from $torch_prefix"
fi
echo "build: configuring and compiling (log in build.log)"
if ! cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" > build.log 2>&1 ||
   ! cmake --build build -j "$(nproc)" ${HAMSTER_BUILD_TARGETS:+--target $HAMSTER_BUILD_TARGETS} >> build.log 2>&1; then
  grep -E -A5 "error|Error" build.log | head -n 80
  echo "build: FAILED (see build.log)"
  exit 1
fi
echo "build: done"
