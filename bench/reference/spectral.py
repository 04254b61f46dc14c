"""Fast spectral ranking (Iscen, Avrithis, Tolias, Furon, Chum: "Fast Spectral Ranking for
Similarity Search", CVPR 2018), written from the paper for parity checks.

Paper, section 3: diffusion's ranking f = (1 - alpha)(I - alpha S)^-1 y is approximated by
the r largest eigenpairs (U, Lambda) of S: f ~ U h(Lambda) U^T y with the transfer function
h(l) = (1 - alpha) / (1 - alpha l). Offline, each database item j gets the r-dimensional
vector Psi_j = (U h(Lambda)^1/2)_j; online, f_j = Psi_j . sum_i y_i Psi_i, an inner product.
The eigenpairs here come from ARPACK (scipy's eigsh) in double precision.

The query is a vector y over its kq nearest database items (section 3: its k nearest
neighbours in the dataset), y_j = max(0, cos)^gamma, found by a scan of the database;
`seeds: shortlist` takes the kq most similar shortlist items instead. The shortlist is
ranked by f, highest first; equal scores keep Hamming order (a stable sort)."""
import numpy as np
from scipy.sparse.linalg import eigsh

import common


def embedding(a, rank, alpha):
    """Psi = U h(Lambda)^1/2 from the r largest eigenpairs of S = D^-1/2 A D^-1/2."""
    s = common.normalise(a)
    # A fixed starting vector: ARPACK's default is random.
    values, vectors = eigsh(s, k=rank, which="LA", v0=np.ones(s.shape[0]), tol=1e-10)
    h = (1 - alpha) / (1 - alpha * values)
    return vectors * np.sqrt(h)


def rerank(shortlists, queries_unit, db_unit, a, params):
    """Each shortlist (database ids) reordered by spectral ranking. `a` is the raw affinity."""
    psi = embedding(a, params["rank"], params["alpha"])
    gamma, kq = params["gamma"], params["kq"]
    out = []
    for q, ids in enumerate(shortlists):
        ids = np.asarray(ids)
        if params.get("seeds", "graph") == "graph":
            cos = db_unit @ queries_unit[q]
            seeds = common.nearest(cos, kq)  # database ids
            weights = np.maximum(cos[seeds], 0) ** gamma
        else:
            cos = db_unit[ids] @ queries_unit[q]
            best = common.nearest(cos, kq)  # positions in the shortlist
            seeds, weights = ids[best], np.maximum(cos[best], 0) ** gamma
        psi_q = weights @ psi[seeds]
        f = psi[ids] @ psi_q
        out.append(ids[np.argsort(-f, kind="stable")])
    return out
