#!/usr/bin/env bash
# hamster's training against the same network, loss, optimiser, batch size and training
# images in plain PyTorch (bench/train_pytorch.py, Debian's python3-torch), side by side
# in one run: images/s at 1 and 2 threads, and mAP@all after the same epochs and seed.
#
#   bench/compare_training.sh [--hasher dsh] [--bits 32] [--epochs 3] [--rounds 3]
#                             [--map-epochs 0]
#
# PyTorch gets its best threading: Debian's PyTorch does its matrix products in OpenBLAS,
# whose own thread pool otherwise runs on top of PyTorch's threads (torch.set_num_threads)
# and oversubscribes the cores. So PyTorch runs twice per thread count: with OpenBLAS's
# default pool, and with OPENBLAS_NUM_THREADS=1 (what hamster itself sets); both are
# printed and the ratio is taken against the faster. The sides alternate for --rounds
# rounds (each round: hamster, PyTorch default, PyTorch OpenBLAS 1), so drift on a noisy
# machine reaches all of them alike; min and median images/s over the rounds are printed.
#
# --map-epochs N (N > 0) also trains both sides N epochs on 1 thread and prints mAP@all.
# Exits 0 with a message, after hamster's side, where python3-torch is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
hasher=dsh bits=32 epochs=3 rounds=3 map_epochs=0
while (($#)); do
  case "$1" in
    --hasher) hasher=$2 ;;
    --bits) bits=$2 ;;
    --epochs) epochs=$2 ;;
    --rounds) rounds=$2 ;;
    --map-epochs) map_epochs=$2 ;;
    *)
      echo "usage: $0 [--hasher dsh|dpsh] [--bits B] [--epochs E] [--rounds R]" \
        "[--map-epochs N]" >&2
      exit 2
      ;;
  esac
  shift 2
done
((rounds >= 1)) || { echo "compare_training: --rounds must be at least 1" >&2; exit 2; }
bench=build/bench/bench_training
[[ -x $bench ]] || { echo "compare_training: build first (scripts/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
have_torch=1
/usr/bin/python3 -c 'import torch' 2> /dev/null || have_torch=0

lscpu | sed -n 's/^Model name: *//p'
echo "$hasher $bits bits, fmnist-1 training images (5,000), batch 64, adam 0.001;" \
  "epochs per fit: $epochs, rounds: $rounds"
"$bench" --hasher "$hasher" --bits "$bits" --epochs 1 --train 64 --train-only \
  --write-split "$tmp/split.txt" > /dev/null

# One line per fit in $tmp/fits: side threads images/s.
ours() {
  "$bench" --hasher "$hasher" --bits "$bits" --epochs "$epochs" --train-only > "$tmp/ours.txt"
  awk '/train, 1 fit x 1 thread/ {print "hamster 1", $NF}
       /train, 1 fit x 2 threads/ {print "hamster 2", $NF}' "$tmp/ours.txt" >> "$tmp/fits"
}
py() { /usr/bin/python3 bench/train_pytorch.py --split "$tmp/split.txt" --hasher "$hasher" \
  --bits "$bits" "$@" 2> /dev/null; }
theirs() {  # $1: side name, then env assignments for python
  local side=$1 threads rate
  shift
  for threads in 1 2; do
    rate=$(env "$@" /usr/bin/python3 bench/train_pytorch.py --split "$tmp/split.txt" \
      --hasher "$hasher" --bits "$bits" --epochs "$epochs" --threads "$threads" --no-eval \
      2> /dev/null | awk '/train_img_per_s/ {print $2}')
    echo "$side $threads $rate" >> "$tmp/fits"
  done
}
for ((r = 1; r <= rounds; ++r)); do
  echo "round $r/$rounds" >&2
  ours
  ((have_torch)) || continue
  theirs pytorch-openblas-default
  theirs pytorch-openblas-1 OPENBLAS_NUM_THREADS=1
done
((have_torch)) || echo "compare_training: python3-torch is not installed: PyTorch side" \
  "skipped (apt-get install python3-torch)"

# Table: min and median images/s of each side; ratio of medians against the faster PyTorch.
/usr/bin/python3 - "$tmp/fits" << 'EOF'
import statistics, sys
fits = {}
for line in open(sys.argv[1]):
    side, threads, rate = line.split()
    fits.setdefault((side, int(threads)), []).append(float(rate))
sides = ["hamster", "pytorch-openblas-default", "pytorch-openblas-1"]
names = {"hamster": "hamster", "pytorch-openblas-default": "PyTorch, OpenBLAS pool",
         "pytorch-openblas-1": "PyTorch, OpenBLAS 1 thread"}
print("\nimages/s, min / median over %d rounds" % len(fits[("hamster", 1)]))
header = ["threads"] + [names[s] for s in sides if (s, 1) in fits] + ["hamster / best PyTorch"]
print("| " + " | ".join(header) + " |")
print("|" + "---:|" * len(header))
for threads in (1, 2):
    cells, medians = [str(threads)], {}
    for s in sides:
        if (s, threads) not in fits:
            continue
        v = fits[(s, threads)]
        medians[s] = statistics.median(v)
        cells.append("%s / %s" % (format(round(min(v)), ","), format(round(medians[s]), ",")))
    best = max((m for s, m in medians.items() if s != "hamster"), default=None)
    cells.append("%.2fx" % (medians["hamster"] / best) if best else "-")
    print("| " + " | ".join(cells) + " |")
EOF

if ((map_epochs > 0)); then
  ours_map=$("$bench" --hasher "$hasher" --bits "$bits" --epochs "$map_epochs" --map \
    | awk '/mAP@all of that fit/ {print $NF}')
  theirs_map="(python3-torch missing)"
  ((have_torch)) && theirs_map=$(OPENBLAS_NUM_THREADS=1 py --epochs "$map_epochs" --threads 1 \
    | awk '/map_all/ {print $2}')
  printf '\nmAP@all after %s epochs, seed 0: hamster %s, PyTorch %s\n' "$map_epochs" \
    "$ours_map" "$theirs_map"
fi
