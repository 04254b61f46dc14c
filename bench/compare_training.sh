#!/usr/bin/env bash
# hamster's training against the same network, loss, optimiser, batch size and training
# images in plain PyTorch (bench/train_pytorch.py, Debian's python3-torch), side by side
# in one run: images/s at 1 and 2 threads, and mAP@all after the same epochs and seed.
#
#   bench/compare_training.sh [--hasher dsh] [--bits 32] [--epochs 3] [--map-epochs 0]
#
# --map-epochs N (N > 0) also trains both sides N epochs on 1 thread and prints mAP@all.
# Exits 0 with a message, after hamster's side, where python3-torch is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
hasher=dsh bits=32 epochs=3 map_epochs=0
while (($#)); do
  case "$1" in
    --hasher) hasher=$2 ;;
    --bits) bits=$2 ;;
    --epochs) epochs=$2 ;;
    --map-epochs) map_epochs=$2 ;;
    *) echo "usage: $0 [--hasher dsh|dpsh] [--bits B] [--epochs E] [--map-epochs N]" >&2; exit 2 ;;
  esac
  shift 2
done
bench=build/bench/bench_training
[[ -x $bench ]] || { echo "compare_training: build first (scripts/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lscpu | sed -n 's/^Model name: *//p'
echo "$hasher $bits bits, fmnist-1 training images (5,000), batch 64, adam 0.001"
"$bench" --hasher "$hasher" --bits "$bits" --epochs "$epochs" --write-split "$tmp/split.txt" \
  | tee "$tmp/hamster.txt"
ours1=$(awk '/train, 1 fit x 1 thread/ {print $NF}' "$tmp/hamster.txt")
ours2=$(awk '/train, 1 fit x 2 threads/ {print $NF}' "$tmp/hamster.txt")

if ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  echo "compare_training: python3-torch is not installed: PyTorch side skipped" \
    "(apt-get install python3-torch)"
  exit 0
fi
py() { /usr/bin/python3 bench/train_pytorch.py --split "$tmp/split.txt" --hasher "$hasher" \
  --bits "$bits" "$@" 2> /dev/null; }
theirs1=$(py --epochs "$epochs" --threads 1 --no-eval | awk '/train_img_per_s/ {print $2}')
theirs2=$(py --epochs "$epochs" --threads 2 --no-eval | awk '/train_img_per_s/ {print $2}')
printf '\n%-10s %14s %14s %8s\n' threads "hamster img/s" "PyTorch img/s" ratio
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {print a / b}'; }
printf '%-10s %14.0f %14.0f %7.2fx\n' 1 "$ours1" "$theirs1" "$(ratio "$ours1" "$theirs1")"
printf '%-10s %14.0f %14.0f %7.2fx\n' 2 "$ours2" "$theirs2" "$(ratio "$ours2" "$theirs2")"

if ((map_epochs > 0)); then
  ours_map=$("$bench" --hasher "$hasher" --bits "$bits" --epochs "$map_epochs" --map \
    | awk '/mAP@all of that fit/ {print $NF}')
  theirs_map=$(py --epochs "$map_epochs" --threads 1 | awk '/map_all/ {print $2}')
  printf '\nmAP@all after %s epochs, seed 0: hamster %s, PyTorch %s\n' "$map_epochs" \
    "$ours_map" "$theirs_map"
fi
