"""Graph-convolution re-ranking, GCR (Zhang, Qian, Wang, Liu, Chen, Wang: "Graph Convolution
Based Efficient Re-Ranking for Visual Retrieval", IEEE TMM 2023), written from the paper for
parity checks.

Each query is re-ranked with its shortlist as the gallery. GCR updates features by graph
convolution: with X the unit rows and A the kernel exp(x_i . x_j / beta) kept on each row's
top-k1 (the row's own entry always kept), X <- D_r^-1/2 A D_c^-1/2 X (D_r, D_c: A's row and
column sums), rows re-normalised; the graph is rebuilt from the new X for each round. The
gallery is ranked by the cosine of the updated query and item features."""
import numpy as np

import common
from kreciprocal import ranks


def propagate(x, k1, beta):
    n = len(x)
    sims = x @ x.T
    np.fill_diagonal(sims, 1.0)
    top = ranks(sims, k1)
    a = np.zeros((n, n))
    rows = np.repeat(np.arange(n), top.shape[1])
    # exp(s / beta) scaled by exp(-1 / beta), which cancels in the normalisation and keeps
    # small beta finite.
    a[rows, top.ravel()] = np.exp((sims[rows, top.ravel()] - 1.0) / beta)
    a[np.arange(n), np.arange(n)] = 1.0
    d_row = 1.0 / np.sqrt(a.sum(axis=1))
    d_col = 1.0 / np.sqrt(a.sum(axis=0))
    y = (d_row[:, None] * a * d_col[None, :]) @ x
    return y / np.linalg.norm(y, axis=1, keepdims=True)


def universe_scores(x, k1, beta, rounds):
    for _ in range(rounds):
        x = propagate(x, k1, beta)
    return -(x[1:] @ x[0])


def rerank(shortlists, queries_unit, db_unit, params):
    return common.rerank_on_universe(
        shortlists, queries_unit, db_unit,
        lambda x: universe_scores(x.astype(np.float64), params["k1"], params["beta"],
                                  params["rounds"]))
