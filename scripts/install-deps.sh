#!/usr/bin/env bash
# Installs hamster's build and run dependencies from Debian 12 packages, as listed in
# third_party/packages.txt (the bench group only with HAMSTER_BENCH_DEPS=1, the sanitize
# group only with HAMSTER_SANITIZE_DEPS=1; HAMSTER_REPORT_DEPS=0 leaves out the report
# group, which only `hamster report`, the notebook and the tests need: the quickstart).
# Idempotent: packages already present are skipped, so a warm machine pays nothing.
# Where it cannot install (no apt-get, or neither root nor sudo: a cluster node, a conda
# environment), it lists what is missing and leaves finding them to CMake's
# CMAKE_PREFIX_PATH (README, "Without apt"); it never fails inside apt for that reason.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
while read -r name group _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  if [[ "$group" == bench && "${HAMSTER_BENCH_DEPS:-0}" != 1 ]]; then continue; fi
  if [[ "$group" == sanitize && "${HAMSTER_SANITIZE_DEPS:-0}" != 1 ]]; then continue; fi
  if [[ "$group" == report && "${HAMSTER_REPORT_DEPS:-1}" != 1 ]]; then continue; fi
  packages+=("$name")
done < third_party/packages.txt

if ! command -v dpkg-query > /dev/null; then
  echo "install-deps: not a Debian system; hamster needs the equivalents of:"
  printf '  %s\n' "${packages[@]}"
  echo "install-deps: put them on CMAKE_PREFIX_PATH (README, \"Without apt\")"
  exit 0
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

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    SUDO="sudo"
  else
    SUDO="none"
  fi
fi
if [[ "$SUDO" == none ]] || ! command -v apt-get > /dev/null; then
  echo "install-deps: cannot install here (no apt-get, or not root and no sudo); missing:"
  printf '  %s\n' "${missing[@]}"
  echo "install-deps: provide them another way and put them on CMAKE_PREFIX_PATH" \
    "(README, \"Without apt\"); the build says which one it cannot find"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
