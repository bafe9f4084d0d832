"""The cell kernels of :class:`~models.recommenders.pooled.CandidatePool`.

A user's candidates are cells of a sparse (users x items) pattern: the shared pool,
the user's own items, their kNN and EASE cells. :func:`candidate_cells` blends the
hybrid's components on those cells, :func:`top_cells` keeps each row's best ``k``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kizuna.models.recommenders.hybrid import HybridRecommender
from kizuna.models.recommenders.hybrid_reasons import ALS, EASE, ITEM_KNN, REPURCHASE, TRENDING
from kizuna.models.recommenders.hybrid_scoring import scaled_cells
from kizuna.models.recommenders.ranking import PAD_ITEM, per_user_max_scale


def candidate_cells(
    model: HybridRecommender,
    items: np.ndarray,
    codes: np.ndarray,
    rows: sp.csr_matrix,
    exclude_seen: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, items and blended scores of every candidate cell, sorted by row then item.

    Seen items are ``-inf`` when ``model.drops_seen(exclude_seen)``. Shapes (cells,).

    Parameters
    ----------
    model
        The fitted hybrid.
    items
        The shared pool's item codes, ascending, shape (m,) int64.
    codes
        User codes, shape (n,) int.
    rows
        The users' histories, ``csr_matrix`` shape (n, n_items).
    exclude_seen
        Whether the request asks for new items only.

    Returns
    -------
    rows, items, scores : numpy.ndarray
        Each shape (n_cells,).
    """
    n, n_items = rows.shape
    w = model.component_weights(exclude_seen=exclude_seen)
    own = sp.csr_matrix(rows.multiply(model.repurchase_boost_[None, :]))
    knn = None
    if w[ITEM_KNN] > 0 and model.item_knn_ is not None:
        knn = model.item_knn_.sparse_scores(rows)
    ease = None
    if w[EASE] > 0 and model.ease_ is not None:
        ease = per_user_max_scale(model.ease_.raw_scores(codes, rows))
    # Candidate pattern: the shared pool, own items, kNN and EASE cells.
    pool = sp.csr_matrix(
        (np.ones(n * items.size, dtype=bool), np.tile(items, n),
         np.arange(n + 1) * items.size),
        shape=(n, n_items),
    )  # fmt: skip
    pattern = pool.astype(np.int8) + _pattern(own)
    if knn is not None:
        pattern = pattern + _pattern(knn)
    if ease is not None:
        pattern = pattern + _pattern(sp.csr_matrix(ease))
    pattern = sp.csr_matrix(pattern)
    pattern.sort_indices()
    r = np.repeat(np.arange(n), np.diff(pattern.indptr))
    c = pattern.indices.astype(np.int64)
    keys = r.astype(np.int64) * n_items + c
    total = np.zeros(keys.size)

    def add(cells: tuple[np.ndarray, np.ndarray, np.ndarray], weight: float) -> None:
        rr, cc, vv = cells
        total[np.searchsorted(keys, rr.astype(np.int64) * n_items + cc)] += weight * vv

    if w[REPURCHASE] > 0:
        add(scaled_cells(own), w[REPURCHASE])
    if knn is not None:
        add(scaled_cells(knn), w[ITEM_KNN])
    if w[ALS] > 0 and model.als_ is not None:
        total += w[ALS] * _als_cells(model, codes, rows, r, c, items)
    if w[TRENDING] > 0:
        total += w[TRENDING] * model.trend_scaled_.astype(np.float64)[c]
    if ease is not None:
        total += w[EASE] * ease[r, c]
    if model.drops_seen(exclude_seen):
        sr = np.repeat(np.arange(n), np.diff(rows.indptr))[rows.data != 0]
        sc = rows.indices[rows.data != 0]
        total[np.searchsorted(keys, sr.astype(np.int64) * n_items + sc)] = -np.inf
    return r, c, total


def _pattern(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, copy=True)
    out.data = np.ones(out.data.size, dtype=np.int8)
    return out


def _als_cells(
    model: HybridRecommender,
    codes: np.ndarray,
    rows: sp.csr_matrix,
    r: np.ndarray,
    c: np.ndarray,
    pool: np.ndarray,
) -> np.ndarray:
    """ALS scores of the cells, clipped at 0 and divided by each row's best cell, shape (cells,).

    The pool's cells come from one matrix product (as the exact blend's), the
    user's other cells one dot product each.
    """
    factors = model.als_.user_factors(codes, rows).astype(np.float64)
    items = np.asarray(model.als_.item_factors_, dtype=np.float64)
    dense = factors @ items[pool].T  # (n, m)
    where = np.searchsorted(pool, c)
    in_pool = (where < pool.size) & (pool[np.minimum(where, pool.size - 1)] == c)
    out = np.empty(c.size)
    out[in_pool] = dense[r[in_pool], where[in_pool]]
    rest = ~in_pool
    out[rest] = np.einsum("ij,ij->i", factors[r[rest]], items[c[rest]])
    out = np.maximum(out, 0.0)
    # Every row holds the pool's cells, and the cells are sorted by row.
    starts = np.searchsorted(r, np.arange(factors.shape[0]))
    scale = np.maximum.reduceat(out, starts)[r] if out.size else out
    np.divide(out, scale, out=out, where=scale > 0)
    return out


def top_cells(
    r: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    n: int,
    k: int,
    rank: np.ndarray,
    sample: np.ndarray,
    n_items: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` cells of each of ``n`` rows, score then ``rank`` of the item; -1 / -inf pads.

    Cells sorted by row then item. ``sample``: pool items every row holds;
    the ``k``-th best of a row's sample cells bounds its top k from below,
    so only the cells at or above it are sorted (as :func:`ranking.top_k`).

    Parameters
    ----------
    r, c, v
        Row, item and score of each cell, shape (cells,); NaN scores count as ``-inf``.
    n
        Number of rows.
    k
        Cells kept per row.
    rank
        Popularity rank of each item, shape (n_items,) int64: breaks ties in score.
    sample
        Pool items every row holds, shape (s,) int64, most popular first.
    n_items
        The catalogue size.

    Returns
    -------
    items : numpy.ndarray
        Shape (n, k), int64; ``-1`` pads.
    scores : numpy.ndarray
        Shape (n, k), float64, descending; ``-inf`` pads.
    """
    items = np.full((n, k), PAD_ITEM, dtype=np.int64)
    scores = np.full((n, k), -np.inf)
    v = np.where(np.isnan(v), -np.inf, v)
    if sample.size >= k:
        keys = r.astype(np.int64) * n_items + c
        want = (np.arange(n, dtype=np.int64)[:, None] * n_items + sample[None, :]).ravel()
        part = v[np.searchsorted(keys, want)].reshape(n, sample.size)
        bound = np.partition(part, sample.size - k, axis=1)[:, sample.size - k]
        keep = v >= bound[r]
        r, c, v = r[keep], c[keep], v[keep]
    ok = ~np.isneginf(v)
    r, c, v = r[ok], c[ok], v[ok]
    order = np.lexsort((rank[c], -v, r))
    r, c, v = r[order], c[order], v[order]
    starts = np.searchsorted(r, np.arange(n))
    pos = np.arange(r.size) - starts[r]
    keep = pos < k
    items[r[keep], pos[keep]] = c[keep]
    scores[r[keep], pos[keep]] = v[keep]
    return items, scores
