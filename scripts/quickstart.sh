#!/usr/bin/env bash
# Installs what is missing, builds Release, runs the default experiment on Fashion-MNIST
# (experiments/configs/quickstart.yaml) and prints its result table.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/experiments/hamster run experiments/configs/quickstart.yaml "$@"
