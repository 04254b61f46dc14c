#!/usr/bin/env bash
# Makes a small real results folder (LSH on fmnist-1, 2 bit lengths x 2 seeds x 3
# re-rankers) and executes notebooks/analysis.ipynb on it with jupyter nbconvert; fails
# unless the notebook runs through, prints its table and writes every figure.
# Usage: tests/check_notebook.sh HAMSTER_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
hamster=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cd "$work"
"$hamster" run "$src/tests/configs/notebook.yaml" > run.log 2>&1 || { cat run.log; exit 1; }
# The loader must find the codes' diagnostics under the key the records use.
/usr/bin/python3 - "$src/notebooks" "$work/results/notebook" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import hamster_results
frame = hamster_results.load(sys.argv[2])
for column in ("diag:quantization_error", "diag:bit_balance", "diag:distinct_codes"):
    assert column in frame and frame[column].notna().all(), f"loader: no {column} column"
assert (frame["diag:distinct_codes"] > 0).all(), "loader: distinct_codes not positive"
# A cell redone before the file was compacted appears twice: its last record counts.
import json, os, tempfile
lines = open(os.path.join(sys.argv[2], "results.jsonl")).read().splitlines()
redone = json.loads(lines[0])
redone["metrics"]["mAP@all"] = 0.125
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        f.write("\n".join(lines + [json.dumps(redone)]) + "\n")
    again = hamster_results.load(d)
assert len(again) == len(frame), f"loader: {len(again)} rows for {len(frame)} cells"
assert again.loc[again["cell"] == redone["cell"], "mAP@all"].tolist() == [0.125], \
    "loader: the last record of a redone cell does not count"
# The same cell run again after a default changed (another cell_key): the newer counts,
# wherever it stands in the file.
rerun = dict(redone, cell_key="another-key", metrics=dict(redone["metrics"], **{"mAP@all": 0.25}),
             provenance=dict(redone["provenance"], timestamp="2999-01-01T00:00:00Z"))
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        f.write("\n".join([json.dumps(rerun)] + lines) + "\n")
    again = hamster_results.load(d)
assert len(again) == len(frame), f"loader: {len(again)} rows for {len(frame)} cells after a re-run"
assert again.loc[again["cell"] == redone["cell"], "mAP@all"].tolist() == [0.25], \
    "loader: the newer run of a cell does not count"
# Records carry the C++ schema's version; a newer one is refused, naming the file and line.
import hamster_records
assert all(r["schema_version"] == hamster_records.SCHEMA_VERSION for r in hamster_records.records(sys.argv[2]))
newer = dict(redone, schema_version=hamster_records.SCHEMA_VERSION + 1)
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        f.write("\n".join(lines + [json.dumps(newer)]) + "\n")
    try:
        hamster_records.records(d)
        raise AssertionError("loader: a newer schema_version was read")
    except SystemExit as e:
        assert f"results.jsonl:{len(lines) + 1}: record schema_version" in str(e), str(e)
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        f.write(json.dumps(dict(redone, schema_version="x")) + "\n")
    try:
        hamster_records.records(d)
        raise AssertionError("loader: a schema_version of 'x' was read")
    except SystemExit as e:
        assert "results.jsonl:1: record schema_version: expected a whole number" in str(e), str(e)
PY
export HAMSTER_RESULTS="$work/results/notebook" HAMSTER_FIGURES="$work/figures"
jupyter nbconvert --to notebook --execute "$src/notebooks/analysis.ipynb" \
  --output "$work/analysis.out.ipynb" > nbconvert.log 2>&1 || { cat nbconvert.log; exit 1; }
grep -q "table check passed" "$work/analysis.out.ipynb" || { echo "no self-check output"; exit 1; }
grep -q "0.*±" "$work/analysis.out.ipynb" || { echo "no mean ± std table in the output"; exit 1; }
for f in map_vs_bits pr_curves p_at_k map_vs_time; do
  for ext in png svg; do
    [[ -s "$work/figures/$f.$ext" ]] || { echo "missing figure $f.$ext"; exit 1; }
  done
done
echo "notebook: ran, table and 8 figures written"
