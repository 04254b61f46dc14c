"""k-reciprocal re-ranking (Zhong, Zheng, Cao, Li: "Re-ranking Person Re-identification with
k-reciprocal Encoding", CVPR 2017), written from the paper for parity checks.

Each query is re-ranked with its shortlist as the gallery (the universe: the query and the
shortlist items). Section 3: the original distance is the squared Euclidean distance of unit
features, each probe's row divided by its largest entry; N(p, k) its k + 1 nearest, p itself
first; R(p, k) the k-reciprocal set (Eq. 4); R*(p) adds R(c, k/2) for c in R(p, k) when
two thirds of it lie in R(p, k) (Eq. 6); V_p = exp(-d) on R*(p), normalised (Eq. 7); local
query expansion averages V over the k2 nearest (Eq. 11); the Jaccard distance is
1 - sum min / sum max (Eq. 10); the final distance (1 - lambda) d_J + lambda d (Eq. 12)."""
import numpy as np

import common


def ranks(sims, depth):
    """Each row's `depth` most similar columns, best first; ties: the smaller index first."""
    n = len(sims)
    out = np.empty((n, min(depth, n)), dtype=np.int64)
    index = np.arange(n)
    for i in range(n):
        out[i] = np.lexsort((index, -sims[i]))[:out.shape[1]]
    return out


def reciprocal_sets(rank, k):
    """R(p, k) for every p: the g among p's k + 1 nearest that have p among theirs."""
    near = [set(row[:k + 1].tolist()) for row in rank]
    return [{g for g in near[p] if p in near[g]} for p in range(len(rank))]


def universe_scores(x, k1, k2, lam):
    """Scores of members 1.. against member 0 (the query); x: unit rows, query first."""
    n = len(x)
    sims = x @ x.T
    np.fill_diagonal(sims, 1.0)
    dist = np.maximum(2 - 2 * sims, 0)
    largest = dist.max(axis=1, keepdims=True)
    dist = np.divide(dist, largest, out=np.zeros_like(dist), where=largest > 0)
    rank = ranks(sims, max(k1 + 1, k2))
    half = int(np.round(k1 / 2))
    half_sets = reciprocal_sets(rank, half)
    full_sets = reciprocal_sets(rank, k1)
    v = np.zeros((n, n))
    for p in range(n):
        r = full_sets[p]
        star = set(r)
        for c in r:
            if len(half_sets[c] & r) >= 2 / 3 * len(half_sets[c]):
                star |= half_sets[c]
        members = sorted(star)
        w = np.exp(-dist[p, members])
        v[p, members] = w / w.sum()
    if k2 > 1:
        v = v[rank[:, :k2]].mean(axis=1)
    shared = np.minimum(v[0], v[1:]).sum(axis=1)
    jaccard = 1 - shared / (2 - shared)
    return (1 - lam) * jaccard + lam * dist[0, 1:]


def rerank(shortlists, queries_unit, db_unit, params):
    return common.rerank_on_universe(
        shortlists, queries_unit, db_unit,
        lambda x: universe_scores(x, params["k1"], params["k2"], params["lambda"]))
