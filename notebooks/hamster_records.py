"""The one reader of a results folder's records for the Python side (the notebook, the
figures, the report, the retrieval grid and bench/reference/parity.py), as
framework/experiment/result_store.h is for the C++ side.

results.jsonl holds one JSON record per finished cell. Cells are appended as they finish,
so a cell redone before the runner compacted the file appears more than once, and its
last record is the one that counts. A cell run again after a default changed in the code
has another cell_key but the same cell id: of those, the newest record counts (as in
`hamster table`), so the older is never averaged in as another seed. Each record's fields are those of
framework/experiment/cell_record.h (tests/data/cell_record.json shows every one); a record
without schema_version is version 1. Standard library only."""
import json
import os

# The newest record schema this reader knows (CellRecord::kSchemaVersion).
SCHEMA_VERSION = 1


def records(results_dir):
    """The records that count, in file order: each cell once, at its last record (records
    without a cell_key are kept as they are). Exits naming the file when there is none,
    and the file and line of a record that does not parse."""
    path = os.path.join(results_dir, "results.jsonl")
    if not os.path.isfile(path):
        raise SystemExit(f"no results at {path}")
    written = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                written.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{number}: corrupt result record ({e})")
            version = written[-1].get("schema_version", 1) if isinstance(written[-1], dict) else 1
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise SystemExit(f"{path}:{number}: record schema_version: expected a whole "
                                 f"number >= 1, got {json.dumps(version)}")
            if version > SCHEMA_VERSION:
                raise SystemExit(f"{path}:{number}: record schema_version {version} is newer "
                                 f"than this reader knows ({SCHEMA_VERSION}); update hamster")
    last = {r["cell_key"]: i for i, r in enumerate(written) if "cell_key" in r}
    kept = [r for i, r in enumerate(written) if "cell_key" not in r or last[r["cell_key"]] == i]
    return _newest_per_cell(kept)


def _when(record):
    """The record's ISO 8601 timestamp ('' when it has none): text order is time order."""
    provenance = record.get("provenance")
    return provenance.get("timestamp", "") if isinstance(provenance, dict) else ""


def _newest_per_cell(records):
    """Of records with one cell id (and the same queries), the newest, in file order."""
    def identity(r):
        return (r.get("cell"), r.get("queries_from"), r.get("perturb"))
    newest = {}
    for i, r in enumerate(records):
        if "cell" not in r:
            continue
        j = newest.get(identity(r))
        if j is None or _when(r) >= _when(records[j]):
            newest[identity(r)] = i
    return [r for i, r in enumerate(records) if "cell" not in r or newest[identity(r)] == i]
