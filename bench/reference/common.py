"""What every reference re-ranker shares, written from docs/protocol.md and the papers (not from
hamster's C++): loading a `hamster export` folder, the exact Hamming shortlist, the exact
cosine kNN graph and its affinity, and mAP@k."""
import os

import numpy as np
import scipy.sparse as sp


def load_export(folder):
    """The arrays `hamster export` writes for one build, by name."""
    names = ["query_codes", "db_codes", "query_features", "db_features", "query_real",
             "db_real", "query_labels", "db_labels"]
    return {n: np.load(os.path.join(folder, n + ".npy")) for n in names}


def hamming_shortlists(query_codes, db_codes, length):
    """Each query's first `length` database ids by Hamming distance; equal distances keep
    database order (a stable sort), as docs/protocol.md fixes."""
    q = np.packbits(query_codes.astype(np.uint8), axis=1)
    d = np.packbits(db_codes.astype(np.uint8), axis=1)
    popcount = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)
    out = np.empty((len(q), length), dtype=np.int64)
    for i in range(len(q)):
        dist = popcount[np.bitwise_xor(d, q[i])].sum(axis=1)
        out[i] = np.argsort(dist, kind="stable")[:length]
    return out


def unit_rows(x):
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def nearest(sims, k):
    """Ids of the k largest similarities, best first; ties: the smaller id first."""
    order = np.lexsort((np.arange(len(sims)), -sims))
    return order[:k]


def exact_knn(x_unit, k, block=1024):
    """Each item's k most cosine-similar other items (self left out by id), best first,
    with their similarities."""
    n = len(x_unit)
    ids = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k))
    for start in range(0, n, block):
        s = x_unit[start:start + block] @ x_unit.T
        for r in range(len(s)):
            row = s[r].copy()
            row[start + r] = -np.inf
            kth = np.partition(-row, k - 1)[k - 1]  # minus the k-th largest similarity
            cand = np.flatnonzero(-row <= kth)  # every tie at the border too
            best = cand[np.lexsort((cand, -row[cand]))][:k]
            ids[start + r], sims[start + r] = best, row[best]
    return ids, sims


def affinity(knn_ids, knn_sims, gamma, mutual):
    """Iscen et al. 2017: a_ij = max(0, s_ij)^gamma on kNN edges, symmetric; with `mutual`
    only edges whose two ends list each other."""
    n, k = knn_ids.shape
    rows = np.repeat(np.arange(n), k)
    cols = knn_ids.ravel()
    w = np.maximum(knn_sims.ravel(), 0) ** gamma
    keep = (w > 0) & (rows != cols)
    a = sp.csr_matrix((w[keep], (rows[keep], cols[keep])), shape=(n, n))
    if mutual:
        return a.minimum(a.T).tocsr()
    return a.maximum(a.T).tocsr()


def normalise(a):
    """D^-1/2 A D^-1/2; a node of degree 0 keeps an empty row."""
    d = np.asarray(a.sum(axis=1)).ravel()
    scale = np.divide(1.0, np.sqrt(d), out=np.zeros_like(d), where=d > 0)
    return sp.diags(scale) @ a @ sp.diags(scale)


def average_precision(rel, k):
    """AP@k = (1/R_k) sum_{i<=k} rel_i P@i; 0 when nothing relevant is in the top k."""
    rel = np.asarray(rel[:k], dtype=np.float64)
    hits = rel.sum()
    if hits == 0:
        return 0.0
    precision = np.cumsum(rel) / np.arange(1, len(rel) + 1)
    return float((precision * rel).sum() / hits)


def mean_average_precision(rankings, query_labels, db_labels, k):
    """mAP@k over every query; relevant = the label sets intersect."""
    aps = [average_precision((db_labels[r] & query_labels[q]).any(axis=1), k)
           for q, r in enumerate(rankings)]
    return float(np.mean(aps))


def rerank_on_universe(shortlists, queries_unit, db_unit, scores):
    """Each shortlist ordered by scores(x), lower first and ties in shortlist order, where x
    stacks the query's unit row over its shortlist items' (the universe of k-reciprocal and
    GNN re-ranking); scores returns one value per shortlist item."""
    out = []
    for q, ids in enumerate(shortlists):
        x = np.vstack([queries_unit[q][None, :], db_unit[ids]])
        out.append(np.asarray(ids)[np.argsort(scores(x), kind="stable")])
    return out
