#!/usr/bin/env bash
# Installs hamster's build and run dependencies from Debian 12 packages.
# Idempotent: packages already present are skipped, so a warm machine pays nothing.
# libopenblas0-pthread matters: without it Debian's LibTorch runs its linear layers on
# the reference BLAS and trains about 3x slower.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libtorch-dev libeigen3-dev libspectra-dev libhnswlib-dev libtbb-dev
  libfmt-dev doctest-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libstb-dev zlib1g-dev dataset-fashion-mnist
  libopenblas0-pthread python3 python3-numpy
  python3-matplotlib python3-pandas jupyter-nbconvert python3-ipykernel
)
if [[ "${HAMSTER_BENCH_DEPS:-0}" == 1 ]]; then
  packages+=(libfaiss-dev libbenchmark-dev)
fi
# scripts/sanitize.sh and scripts/fuzz.sh: clang with its sanitizer and libFuzzer runtimes.
if [[ "${HAMSTER_SANITIZE_DEPS:-0}" == 1 ]]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
