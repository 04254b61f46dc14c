#!/usr/bin/python3
"""Reference parity: hamster's re-rankers against the numpy/scipy implementations in this
folder, written from the papers, on the same builds.

    bench/reference/parity.py CONFIG [--hamster build/experiments/hamster] [--tolerance 0.002]
                              [--rerankers diffusion,gnn] [--force] [--export DIR]

Runs `hamster run CONFIG` and `hamster export CONFIG`, then re-ranks every build's exact
Hamming shortlists with the reference of each re-ranker cell (its effective parameters
read from the record), and prints mAP@k side by side (k: the config's first finite
map_at). Graph re-rankers should use `graph: exact` in CONFIG: the references build the
exact kNN graph. Exits 1 when any cell differs by more than the tolerance."""
import argparse
import os
import subprocess
import sys

import numpy as np
import yaml

import common
import diffusion
import expansion
import gcr
import gnn
import kreciprocal
import offline_diffusion
import spectral

# The one reader of result records, beside the notebook that uses it too.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "notebooks"))
import hamster_records  # noqa: E402


def as_number(text):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return {"true": True, "false": False}.get(text, text)


def export_folder(export_dir, cell):
    build = cell.rsplit("/", 1)[0]
    return os.path.join(export_dir, "".join("_" if c in "/(),=" else c for c in build))


class Build:
    """A build's export, with what several references share computed once."""

    def __init__(self, folder, shortlist):
        self.data = common.load_export(folder)
        self.shortlists = common.hamming_shortlists(self.data["query_codes"],
                                                    self.data["db_codes"], shortlist)
        self.cache = {}

    def unit(self, embedding, side):
        key = (embedding, side)
        if key not in self.cache:
            name = {"feature": "features", "real": "real"}[embedding]
            self.cache[key] = common.unit_rows(self.data[f"{side}_{name}"])
        return self.cache[key]

    def knn(self, embedding, k):
        key = ("knn", embedding, k)
        if key not in self.cache:
            self.cache[key] = common.exact_knn(self.unit(embedding, "db"), k)
        return self.cache[key]

    def affinity(self, embedding, k, gamma, mutual):
        key = ("affinity", embedding, k, gamma, mutual)
        if key not in self.cache:
            ids, sims = self.knn(embedding, k)
            self.cache[key] = common.affinity(ids, sims, gamma, mutual)
        return self.cache[key]


def graph_reference(rerank):
    """A reference that needs the exact kNN graph's affinity."""
    def run(build, queries, db, params):
        a = build.affinity(params.get("embedding", "feature"), params["k"], params["gamma"],
                           params["mutual"])
        return rerank(build.shortlists, queries, db, a, params)
    return run


def shortlist_reference(rerank):
    """A reference that works on each query and its shortlist alone."""
    return lambda build, queries, db, params: rerank(build.shortlists, queries, db, params)


def dba_reference(build, queries, db, params):
    # The shared graph's k (50) is what hamster's dba reads its first k rows from.
    knn = build.knn(params.get("embedding", "feature"), 50)
    return expansion.dba(build.shortlists, queries, db, knn, params)


REFERENCES = {
    "alpha_qe": shortlist_reference(expansion.alpha_qe),
    "dba": dba_reference,
    "diffusion": graph_reference(diffusion.rerank),
    "offline_diffusion": graph_reference(offline_diffusion.rerank),
    "spectral": graph_reference(spectral.rerank),
    "kreciprocal": shortlist_reference(kreciprocal.rerank),
    "gnn": shortlist_reference(gnn.rerank),
    "gcr": shortlist_reference(gcr.rerank),
}


def reference_rankings(build, name, params):
    embedding = params.get("embedding", "feature")
    queries, db = build.unit(embedding, "query"), build.unit(embedding, "db")
    return REFERENCES[name](build, queries, db, params)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--hamster", default="build/experiments/hamster")
    ap.add_argument("--tolerance", type=float, default=0.002)
    ap.add_argument("--export", default=None, help="export folder (default: beside results)")
    ap.add_argument("--force", action="store_true", help="re-run finished cells (hamster run --force)")
    ap.add_argument("--rerankers", default=None,
                    help="compare only these re-rankers (comma-separated names)")
    args = ap.parse_args()

    with open(args.config) as f:
        config = yaml.safe_load(f)
    # Where `hamster run` writes: the config's output folder (default results/) / its name.
    results_dir = os.path.join(config.get("output", "results"), config["name"])
    export_dir = args.export or results_dir + "-export"
    subprocess.run([args.hamster, "run", args.config] + (["--force"] if args.force else []),
                   check=True)
    subprocess.run([args.hamster, "export", args.config, "--out", export_dir], check=True)
    records = hamster_records.records(results_dir)
    shortlist = int(config["shortlist"])

    builds, rows, worst = {}, [], 0.0
    only = set(args.rerankers.split(",")) if args.rerankers else None
    for r in records:
        if r["reranker"] not in REFERENCES or (only and r["reranker"] not in only):
            continue
        metric = next(m for m in r["metric_order"] if m.startswith("mAP@") and m != "mAP@all")
        k = int(metric[4:])
        folder = export_folder(export_dir, r["cell"])
        if folder not in builds:
            builds[folder] = Build(folder, shortlist)
        b = builds[folder]
        params = {key: as_number(str(v)) for key, v in r["reranker_effective_params"].items()}
        ranked = reference_rankings(b, r["reranker"], params)
        ref = common.mean_average_precision(ranked, b.data["query_labels"].astype(bool),
                                            b.data["db_labels"].astype(bool), k)
        ours = r["metrics"][metric]
        worst = max(worst, abs(ours - ref))
        rows.append((r["hasher"], r["bits"], r["reranker_label"], metric, ours, ref))
    if not rows:
        sys.exit("parity: no cell of a re-ranker with a reference (" + ", ".join(REFERENCES) + ")")
    print("| hasher | bits | re-ranker | metric | hamster | reference | difference |")
    print("|---|---:|---|---|---:|---:|---:|")
    for h, bits, label, metric, ours, ref in rows:
        print(f"| {h} | {bits} | {label} | {metric} | {ours:.4f} | {ref:.4f} | {ours - ref:+.4f} |")
    print(f"largest difference {worst:.4f} (tolerance {args.tolerance})")
    sys.exit(1 if worst > args.tolerance else 0)


if __name__ == "__main__":
    main()
