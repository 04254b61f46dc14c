#!/usr/bin/env bash
# Installs what is missing (not the report packages: `hamster report` says how when it is
# first used), builds the hamster binary alone (Release), runs the default experiment on
# Fashion-MNIST (experiments/configs/quickstart.yaml) and prints mAP@1000 with the
# re-rankers as columns. Arguments go to `hamster run` (e.g. --dry-run).
set -euo pipefail
cd "$(dirname "$0")/.."
HAMSTER_REPORT_DEPS=0 scripts/install-deps.sh
HAMSTER_BUILD_TARGETS=hamster scripts/build.sh
hamster=build/experiments/hamster
# Progress goes to stderr; the long per-cell table is in results/quickstart.
$hamster run experiments/configs/quickstart.yaml "$@" > /dev/null
[[ " $* " == *" --dry-run "* ]] && exit 0
echo
$hamster table results/quickstart --rows hasher,bits --cols reranker --metric mAP@1000
echo
echo "every cell and column: $hamster table results/quickstart --wide (or results/quickstart/results.csv);" \
  "a page with figures: scripts/install-deps.sh && $hamster report results/quickstart"
