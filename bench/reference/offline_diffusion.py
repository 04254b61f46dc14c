"""Offline diffusion (Yang, Li, Yang, Wang, Song, Hua: "Efficient Image Retrieval via
Decoupling Diffusion into Online and Offline Processing", AAAI 2019), written from the paper
for parity checks.

Offline, every database item j gets F_j, the solution of (I - alpha S_T) F = e_j on its
truncation set T_j (its `truncation` nearest database items, j first), S_T the rows and
columns of the global S = D^-1/2 W D^-1/2 for T_j (not renormalised), by conjugate gradient.
Online, the query's kq nearest database items j weigh F_j by max(0, cos)^gamma; the sum
ranks the shortlist; items it never reached follow in cosine order."""
import numpy as np

import common
from diffusion import solve


def offline_solution(j, db_unit, s, truncation, alpha, tol, iterations):
    """F_j as (item ids, values), its positive entries only."""
    row = db_unit @ db_unit[j]
    row[j] = np.inf  # j itself first
    trunc = common.nearest(row, truncation)
    y = np.zeros(len(trunc))
    y[0] = 1.0
    f = solve(s[trunc][:, trunc], y, alpha, tol, iterations)
    keep = f > 0
    return trunc[keep], f[keep]


def rerank(shortlists, queries_unit, db_unit, a, params):
    s = common.normalise(a).tocsr()
    nearest = []
    for q in range(len(shortlists)):
        sims_db = db_unit @ queries_unit[q]
        nearest.append((sims_db, common.nearest(sims_db, params["kq"])))
    # Every database item's F_j is the paper's offline stage; only those some query's kq
    # nearest use can change a ranking, so only those are solved here (the same values).
    needed = sorted(set(int(j) for _, near in nearest for j in near))
    solutions = {j: offline_solution(j, db_unit, s, params["truncation"], params["alpha"],
                                     params["tol"], params["iterations"]) for j in needed}
    out = []
    for (sims_db, near), ids in zip(nearest, shortlists):
        weights = np.maximum(sims_db[near], 0) ** params["gamma"]
        f_db = np.zeros(len(db_unit))
        for j, w in zip(near, weights):
            cols, vals = solutions[int(j)]
            f_db[cols] += w * vals
        f = f_db[ids]
        score = np.where(f > 0, -f, 2 - sims_db[ids])
        out.append(np.asarray(ids)[np.argsort(score, kind="stable")])
    return out
