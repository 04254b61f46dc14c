#!/usr/bin/env python3
"""Independent mAP computation for cross-checking hamster's evaluation (numpy only).

    python3 scripts/check_map.py DIR [--topk K ...] [--chunk Q]

DIR holds query_codes.npy and db_codes.npy (uint8, n x bits of 0/1) and query_labels.npy
and db_labels.npy (n x classes uint8 of 0/1; older exports: uint64 label masks, shape (n,)). Follows docs/protocol.md: an item is
relevant when it shares a label with the query; the database is ranked by Hamming
distance with ties in database-index order (a stable sort); AP@k is normalised by the
relevant items within the top k (0 when there are none); means are over all queries.
Prints one line per metric, "mAP@all 0.812345678", then "mAP@K ..." for each --topk.
"""
import argparse
import os
import sys

import numpy as np


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        sys.exit(f"check_map: missing {path}")
    return np.load(path)


def check_codes(codes, name):
    if codes.ndim != 2:
        sys.exit(f"check_map: {name} must be n x bits, got shape {codes.shape}")
    if codes.size and not np.isin(codes, (0, 1)).all():
        sys.exit(f"check_map: {name} must hold only 0 and 1")


def multi_hot(labels, name):
    """Labels as an n x classes 0/1 float32 matrix; uint64 masks (bit c = class c) unpacked."""
    if labels.ndim == 1:
        bits = (labels.astype(np.uint64)[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
        return bits.astype(np.float32)
    if labels.ndim != 2 or (labels.size and not np.isin(labels, (0, 1)).all()):
        sys.exit(f"check_map: {name} must be n x classes of 0/1 (or 1-D uint64 masks)")
    return labels.astype(np.float32)


def hamming(query_bits, db_bits, db_ones):
    """Distances |q| + |x| - 2 q.x; exact in float32 since every term is a small integer."""
    q_ones = query_bits.sum(axis=1, keepdims=True)
    dot = query_bits @ db_bits.T
    return np.rint(q_ones + db_ones[None, :] - 2.0 * dot).astype(np.int32)


def average_precisions(rel, cutoffs):
    """AP@k for each row of rel (0/1 in rank order) and each k; returns {k: per-row APs}."""
    hits = np.cumsum(rel, axis=1, dtype=np.int64)
    ranks = np.arange(1, rel.shape[1] + 1, dtype=np.float64)
    precision_terms = np.where(rel, hits / ranks, 0.0)
    out = {}
    for k in cutoffs:
        retrieved = hits[:, k - 1] if k > 0 else np.zeros(rel.shape[0], dtype=np.int64)
        summed = precision_terms[:, :k].sum(axis=1)
        out[k] = np.where(retrieved > 0, summed / np.maximum(retrieved, 1), 0.0)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--topk", type=int, action="append", default=[],
                        help="also report mAP@K (repeatable)")
    parser.add_argument("--chunk", type=int, default=64,
                        help="queries ranked at once (memory ~ chunk x database x 40 bytes)")
    args = parser.parse_args()

    query_codes = load(args.dir, "query_codes.npy")
    db_codes = load(args.dir, "db_codes.npy")
    query_labels = multi_hot(load(args.dir, "query_labels.npy"), "query_labels")
    db_labels = multi_hot(load(args.dir, "db_labels.npy"), "db_labels")
    check_codes(query_codes, "query_codes")
    check_codes(db_codes, "db_codes")
    if query_codes.shape[1] != db_codes.shape[1]:
        sys.exit(f"check_map: {query_codes.shape[1]} query bits vs {db_codes.shape[1]} database bits")
    if len(query_labels) != len(query_codes) or len(db_labels) != len(db_codes):
        sys.exit("check_map: label and code counts differ")
    if query_labels.shape[1] != db_labels.shape[1]:
        sys.exit("check_map: query and database labels have different class counts")
    if len(query_codes) == 0:
        sys.exit("check_map: no queries")
    if any(k < 1 for k in args.topk) or args.chunk < 1:
        sys.exit("check_map: --topk and --chunk must be >= 1")

    n = len(db_codes)
    # "all" and any k past the end both mean the whole database.
    cutoffs = [n] + [min(k, n) for k in args.topk]
    names = ["mAP@all"] + [f"mAP@{k}" for k in args.topk]

    db_bits = db_codes.astype(np.float32)
    db_ones = db_bits.sum(axis=1)
    sums = dict.fromkeys(cutoffs, 0.0)
    for start in range(0, len(query_codes), args.chunk):
        stop = min(start + args.chunk, len(query_codes))
        dist = hamming(query_codes[start:stop].astype(np.float32), db_bits, db_ones)
        order = np.argsort(dist, axis=1, kind="stable")
        # Shared labels per (query, item): relevant when any (exact: small integer sums).
        shared = query_labels[start:stop] @ db_labels.T
        rel = np.take_along_axis(shared, order, axis=1) > 0
        for k, ap in average_precisions(rel, set(cutoffs)).items():
            sums[k] += float(ap.sum())  # chunks in query order: a fixed summation order

    for name, k in zip(names, cutoffs):
        print(f"{name} {sums[k] / len(query_codes):.9f}")


if __name__ == "__main__":
    main()
