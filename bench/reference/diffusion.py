"""Diffusion (Iscen, Tolias, Avrithis, Furon, Chum: "Efficient Diffusion on Region
Manifolds", CVPR 2017), written from the paper for parity checks.

Paper, section 3-4: W is the (mutual) kNN graph's affinity, a_ij = max(0, x_i^T x_j)^gamma,
S = D^-1/2 W D^-1/2; the query is a vector y over its k nearest database items,
y_j = max(0, q^T x_j)^gamma; the ranking solves (I - alpha S) f = y by conjugate gradient
(alpha = 0.99, gamma = 3, 20 iterations). Truncation (section 4.3): the system is solved on
a subgraph around the query, whose affinity is renormalised over the subgraph
(D_T^-1/2 W_T D_T^-1/2) so that it is again a random-walk kernel.

Here the subgraph is the shortlist, the seeds and, for `neighbours`, every graph neighbour
of those; `none` solves on the whole graph. The shortlist is ranked by f; items f never
reached (f = 0) follow in cosine order."""
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg

import common


def solve(s, y, alpha, tol, iterations):
    n = s.shape[0]
    system = LinearOperator((n, n), matvec=lambda v: v - alpha * (s @ v), dtype=np.float64)
    f, _ = cg(system, y, x0=np.zeros(n), tol=tol, atol=0.0, maxiter=iterations)
    return f


def rerank(shortlists, queries_unit, db_unit, a, params):
    """Each shortlist (database ids) reordered by diffusion. `a` is the raw affinity W."""
    alpha, gamma, kq = params["alpha"], params["gamma"], params["kq"]
    tol, iterations, truncate = params["tol"], params["iterations"], params["truncate"]
    s_global = common.normalise(a) if truncate == "none" else None
    out = []
    for q, ids in enumerate(shortlists):
        sims_db = db_unit @ queries_unit[q]
        seeds = common.nearest(sims_db, kq)
        weights = np.maximum(sims_db[seeds], 0) ** gamma
        seeds, weights = seeds[weights > 0], weights[weights > 0]
        f_list = np.zeros(len(ids))
        if len(seeds):
            if truncate == "none":
                y = np.zeros(a.shape[0])
                y[seeds] = weights
                f_list = solve(s_global, y, alpha, tol, iterations)[ids]
            else:
                nodes = list(dict.fromkeys(list(ids) + list(seeds)))
                if truncate == "neighbours":
                    extra = a[nodes].indices
                    nodes = list(dict.fromkeys(nodes + list(extra)))
                nodes = np.array(nodes)
                s_t = common.normalise(a[nodes][:, nodes])
                position = {node: i for i, node in enumerate(nodes)}
                y = np.zeros(len(nodes))
                y[[position[s] for s in seeds]] = weights
                f_list = solve(s_t, y, alpha, tol, iterations)[:len(ids)]
        cos = sims_db[ids]
        score = np.where(f_list > 0, -f_list, 2 - cos)
        out.append(np.asarray(ids)[np.argsort(score, kind="stable")])
    return out
