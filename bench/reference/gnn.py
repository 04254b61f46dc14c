"""GNN re-ranking (Zhang et al.: "Understanding Image Retrieval Re-Ranking: A Graph Neural
Network Perspective", 2020), written from the paper for parity checks.

Each query is re-ranked with its shortlist as the gallery. Section 3: the adjacency A marks
each item's top-k1 by cosine (itself included); each of the two layers symmetrises A
(A + A^T), replaces every row by the sum of its top-k2 neighbours' rows weighted by their
squared cosine (the message passing), and scales rows to unit length; the gallery is ranked
by the inner product of the query's row with each item's. With k2 = 1 the rows of A are
compared without message passing."""
import numpy as np

import common
from kreciprocal import ranks


def universe_scores(x, k1, k2, layers):
    n = len(x)
    sims = x @ x.T
    np.fill_diagonal(sims, 1.0)
    rank = ranks(sims, max(k1, k2))
    a = np.zeros((n, n))
    a[np.repeat(np.arange(n), min(k1, n)), rank[:, :k1].ravel()] = 1
    if k2 > 1:
        top = rank[:, :k2]
        weight = np.take_along_axis(sims, top, axis=1) ** 2
        for _ in range(layers):
            a = a + a.T
            a = np.einsum("ij,ijk->ik", weight, a[top])
            norm = np.linalg.norm(a, axis=1, keepdims=True)
            a = np.divide(a, norm, out=np.zeros_like(a), where=norm > 0)
    return -(a[1:] @ a[0])


def rerank(shortlists, queries_unit, db_unit, params):
    return common.rerank_on_universe(
        shortlists, queries_unit, db_unit,
        lambda x: universe_scores(x, params["k1"], params["k2"], params["layers"]))
