"""The one reader of a results folder's records for the Python side (the notebook, the
figures, the report, the retrieval grid and bench/reference/parity.py), as
framework/experiment/result_store.h is for the C++ side.

results.jsonl holds one JSON record per finished cell. Cells are appended as they finish,
so a cell redone before the runner compacted the file appears more than once, and its
last record is the one that counts. Each record's fields are those of
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
    return [r for i, r in enumerate(written) if "cell_key" not in r or last[r["cell_key"]] == i]
