#!/usr/bin/env bash
# Run on a Debian 12 machine: fetches, without installing them, the Debian packages that
# scripts/gpu-check.sh needs on a GPU machine that has a CUDA PyTorch, a compiler and CMake
# but no apt: the headers and shared libraries hamster builds against (LibTorch comes from
# that machine's PyTorch) and the Fashion-MNIST files. They land in .gpu-kit/ (ignored by
# git, about 35 MB); copy the checkout with that folder to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  libeigen3-dev libspectra-dev libhnswlib-dev doctest-dev libcli11-dev nlohmann-json3-dev
  libtbb-dev libtbb12 libtbbmalloc2 libtbbbind-2-5 libfmt-dev libfmt9 libyaml-cpp-dev libyaml-cpp0.7
  libstb-dev libstb0 zlib1g-dev dataset-fashion-mnist
)
rm -rf .gpu-kit.tmp && mkdir .gpu-kit.tmp
(cd .gpu-kit.tmp && apt-get download "${packages[@]}")
rm -rf .gpu-kit && mv .gpu-kit.tmp .gpu-kit
echo "gpu-kit: $(ls .gpu-kit | wc -l) packages, $(du -sh .gpu-kit | cut -f1) in .gpu-kit/"
