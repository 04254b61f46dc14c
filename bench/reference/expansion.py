"""Query expansion and database-side augmentation, written from the papers for parity
checks.

alpha-QE (Radenovic, Tolias, Chum: "Fine-tuning CNN Image Retrieval with No Human
Annotation", TPAMI 2018, section 5): the query becomes q' = q + sum over its n nearest items
x_i of (q^T x_i)^alpha x_i (negative similarities weigh 0; alpha = 0 weighs each item 1,
average query expansion), unit length, and the shortlist is ranked by q'^T x. The nearest
items are those of the query's shortlist.

DBA (Arandjelovic, Zisserman: "Three things everyone should know to improve object
retrieval", CVPR 2012; alpha-weighted as Radenovic et al.): every database item becomes
x_i + sum over its k nearest database items of (x_i^T x_j)^alpha x_j, unit length; queries
are then ranked against the augmented database, optionally after alpha-QE with qe_n of its
items."""
import numpy as np

import common


def weights(sims, alpha):
    if alpha == 0:
        return np.ones_like(sims)
    return np.maximum(sims, 0) ** alpha


def expanded(q, db, ids, n, alpha):
    sims = db[ids] @ q
    best = np.asarray(ids)[np.lexsort((np.arange(len(ids)), -sims))[:n]]
    out = q + (weights(db[best] @ q, alpha)[:, None] * db[best]).sum(axis=0)
    norm = np.linalg.norm(out)
    return out / norm if norm > 0 else out


def rank_by_cosine(q, db, ids):
    return np.asarray(ids)[np.argsort(-(db[ids] @ q), kind="stable")]


def alpha_qe(shortlists, queries_unit, db_unit, params):
    n, alpha = params["n"], params["alpha"]
    return [rank_by_cosine(expanded(queries_unit[q], db_unit, ids, n, alpha), db_unit, ids)
            for q, ids in enumerate(shortlists)]


def augmented(db_unit, knn_ids, knn_sims, k, alpha):
    ids, sims = knn_ids[:, :k], knn_sims[:, :k]
    out = db_unit + (weights(sims, alpha)[:, :, None] * db_unit[ids]).sum(axis=1)
    return common.unit_rows(out)


def dba(shortlists, queries_unit, db_unit, knn, params):
    db = augmented(db_unit, knn[0], knn[1], params["k"], params["alpha"])
    out = []
    for q, ids in enumerate(shortlists):
        query = queries_unit[q]
        if params["qe_n"] > 0:
            query = expanded(query, db, ids, params["qe_n"], params["alpha"])
        out.append(rank_by_cosine(query, db, ids))
    return out
