#!/usr/bin/env bash
# The external re-ranker inside the grid: LSH-32 on fmnist-1 with the C++ alpha_qe and the
# numpy one (rerankers/external/alpha_qe.py) as two cells of one run; fails unless both are
# recorded with the same mAP@100, above no re-ranking, and the external cell has a time.
# Usage: tests/check_external.sh HAMSTER_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
hamster=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cd "$work"
cat > external.yaml <<YAML
name: external
dataset: fashion-mnist
protocol: fmnist-1
bits: [32]
shortlist: 100
hashers: [lsh]
rerankers:
  - none
  - {name: alpha_qe, params: {n: 5, alpha: 3}}
  - {name: external, params: {command: "/usr/bin/python3 $src/rerankers/external/alpha_qe.py --n 5 --alpha 3"}}
metrics:
  map_at: [100]
YAML
"$hamster" run external.yaml > run.log 2>&1 || { cat run.log; exit 1; }
"$hamster" table results/external --format csv > table.csv
/usr/bin/python3 - table.csv <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {r["reranker"].split("(")[0]: r for r in rows}
assert set(by) == {"none", "alpha_qe", "external"}, f"rerankers in the table: {sorted(by)}"
metric = next(k for k in rows[0] if k.startswith("mAP@100"))
ours, theirs, none = (float(by[n][metric]) for n in ("alpha_qe", "external", "none"))
assert abs(ours - theirs) <= 1e-4, f"alpha_qe {ours} but the numpy one {theirs}"
assert theirs > none, f"external {theirs} not above none {none}"
time = next(k for k in rows[0] if k.startswith("rerank ms"))
assert float(by["external"][time]) > 0, "external has no re-rank time"
print(f"external check passed: alpha_qe {ours:.4f}, numpy alpha_qe {theirs:.4f}, none {none:.4f}")
PY
