#!/usr/bin/env python3
"""alpha-weighted query expansion (Radenovic et al., TPAMI 2018) in numpy, as a re-ranker
for hamster's `external` plugin: the worked example of a numpy prototype in the grid.

    rerankers:
      - {name: external, params: {command: "python3 rerankers/external/alpha_qe.py --n 5 --alpha 3"}}

hamster appends a folder holding database.npy, queries.npy and shortlists.npy (see
rerankers/external/external.cpp); this writes reranked.npy there. The method: q' =
normalise(q + sum over the n most cosine-similar shortlist items of max(0, cos)^alpha x_i),
the shortlist sorted by cos(q', x), ties kept in shortlist order. It gives the C++ alpha_qe's
ranking (rerankers/external/test_external.cpp checks that).
"""
import argparse
import os

import numpy as np


def unit_rows(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > 0, x / np.where(norms > 0, norms, 1), 0).astype(np.float32)


def weights(sims, alpha):
    if alpha == 0:
        return np.ones_like(sims)
    return np.where(sims > 0, np.maximum(sims, 0) ** alpha, 0)


def rerank(database, queries, shortlists, n, alpha):
    out = shortlists.copy()
    for i, row in enumerate(shortlists):
        ids = row[row >= 0]
        x = database[ids]
        sims = x @ queries[i]
        top = np.argsort(-sims, kind="stable")[:n]
        expanded = queries[i] + (weights(sims[top], alpha)[:, None] * x[top]).sum(axis=0)
        norm = np.linalg.norm(expanded)
        if norm > 0:
            expanded = expanded / norm
        order = np.argsort(-(x @ expanded), kind="stable")
        out[i, : len(ids)] = ids[order]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="shortlist items added to the query")
    parser.add_argument("--alpha", type=float, default=3.0, help="similarity exponent")
    parser.add_argument("folder", help="the folder hamster wrote the .npy files to")
    args = parser.parse_args()
    load = lambda name: np.load(os.path.join(args.folder, name))
    database = unit_rows(load("database.npy"))
    queries = unit_rows(load("queries.npy"))
    reranked = rerank(database, queries, load("shortlists.npy"), args.n, args.alpha)
    np.save(os.path.join(args.folder, "reranked.npy"), reranked.astype(np.int64))


if __name__ == "__main__":
    main()
