"""Offline diffusion (Yang, Li, Yang, Wang, Song, Hua: "Efficient Image Retrieval via
Decoupling Diffusion into Online and Offline Processing", AAAI 2019), written from the paper
for parity checks.

Offline, every database item j gets F_j, the solution of (I - alpha S_T) F = e_j on its
truncation set T_j (its `truncation` nearest database items, j first), S_T the rows and
columns of the global S = D^-1/2 W D^-1/2 for T_j (not renormalised), by conjugate gradient.
Online, the query's kq nearest database items j weigh F_j by max(0, cos)^gamma; the sum
ranks the shortlist; items it never reached follow in cosine order."""
import numpy as np
import scipy.sparse as sp

import common
from diffusion import solve


def offline_solutions(db_unit, s, truncation, alpha, tol, iterations, block=512):
    n = len(db_unit)
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        sims = db_unit[start:start + block] @ db_unit.T
        for r in range(len(sims)):
            j = start + r
            row = sims[r].copy()
            row[j] = np.inf  # j itself first
            trunc = common.nearest(row, truncation)
            y = np.zeros(len(trunc))
            y[0] = 1.0
            f = solve(s[trunc][:, trunc], y, alpha, tol, iterations)
            keep = f > 0
            rows.append(np.full(keep.sum(), j))
            cols.append(trunc[keep])
            vals.append(f[keep])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n))


def rerank(shortlists, queries_unit, db_unit, a, params):
    s = common.normalise(a).tocsr()
    f_all = offline_solutions(db_unit, s, params["truncation"], params["alpha"], params["tol"],
                              params["iterations"])
    out = []
    for q, ids in enumerate(shortlists):
        sims_db = db_unit @ queries_unit[q]
        nearest = common.nearest(sims_db, params["kq"])
        weights = np.maximum(sims_db[nearest], 0) ** params["gamma"]
        f = np.asarray(f_all[nearest].T @ weights).ravel()[ids]
        score = np.where(f > 0, -f, 2 - sims_db[ids])
        out.append(np.asarray(ids)[np.argsort(score, kind="stable")])
    return out
