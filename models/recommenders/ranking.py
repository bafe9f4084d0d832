"""Array helpers shared by the recommenders: input checks, blocked top-k, score scaling."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError

# Dense score blocks are computed this many cells at a time, so a large
# catalogue never needs an (n_users, n_items) array in memory at once.
_BLOCK_CELLS = 2_000_000
# top_k's sample of columns that bounds each row's k-th best score: this many per k,
# at least _SAMPLE_MIN.
_SAMPLE_PER_K = 8
_SAMPLE_MIN = 256

PAD_ITEM = -1


def check_user_items(matrix: Any, *, name: str) -> sp.csr_matrix:
    """A 2-D sparse matrix of finite, non-negative values, as canonical float32 CSR.

    Parameters
    ----------
    matrix
        A sparse matrix, shape (n_users, n_items).
    name
        The argument named in errors.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape of ``matrix``, float32, canonical (sorted, no duplicates).
    """
    if not sp.issparse(matrix) or matrix.ndim != 2:
        raise KizunaInputError(
            f"must be a 2-D scipy sparse matrix (users x items), got {type(matrix).__name__}",
            column=name,
        )
    out = sp.csr_matrix(matrix, dtype=np.float32)
    if not out.has_canonical_format:
        out = out.copy()
        out.sum_duplicates()
    bad = ~np.isfinite(out.data) | (out.data < 0)
    if bad.any():
        raise KizunaInputError(
            "must hold finite, non-negative interaction strengths", column=name,
            values=out.data[bad],
        )  # fmt: skip
    return out


def item_vector(values: Any, n_items: int) -> np.ndarray:
    """Per-item totals, shape (n_items,) float64, from a sparse matrix or a vector.

    Parameters
    ----------
    values
        A sparse matrix with ``n_items`` columns (summed over rows), or a vector of shape (n_items,).
    n_items
        Number of items of the fitted matrix.

    Returns
    -------
    numpy.ndarray
        Shape (n_items,), float64.
    """
    if sp.issparse(values):
        if values.ndim != 2 or values.shape[1] != n_items:
            raise KizunaInputError(
                f"needs {n_items} item columns, got shape {values.shape}", column="recent_items"
            )
        out = np.asarray(values.sum(axis=0), dtype=np.float64).ravel()
    else:
        out = np.asarray(values, dtype=np.float64)
        if out.shape != (n_items,):
            raise KizunaInputError(
                f"needs shape ({n_items},), got {out.shape}", column="recent_items"
            )
    bad = ~np.isfinite(out) | (out < 0)
    if bad.any():
        raise KizunaInputError("must be finite and non-negative", column="recent_items",
                               values=out[bad])  # fmt: skip
    return out


def check_codes(codes: Any, name: str) -> np.ndarray:
    """Integer codes, shape (n,) int64.

    Parameters
    ----------
    codes
        Integer-valued codes, shape (n,).
    name
        The argument named in errors.

    Returns
    -------
    numpy.ndarray
        Shape (n,), int64.
    """
    arr = np.asarray(codes)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise KizunaInputError(
            f"must be a 1-D array of integer codes, got {arr.dtype} {arr.shape}", column=name
        )
    return arr.astype(np.int64, copy=False)


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise KizunaInputError("must be a positive integer", column="k", values=[k])
    return int(k)


def top_k(
    scores: np.ndarray, k: int, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row, best first; ``-inf`` cells come back as -1.

    Ranked by score, ties by ``order`` (default: lower code first). On wide
    rows each row's ``k``-th best score is first bounded from below by the
    best of a sample of columns (the first of ``order``), so only the few
    columns at or above the bound are sorted, not the whole row; rows whose
    sample holds fewer than ``k`` finite scores take the full path. The
    answer is the same either way.

    Parameters
    ----------
    scores
        Shape (n, n_items) float; ``-inf`` = not allowed. NaN counts as ``-inf``.
    k
        Columns to return; more than ``n_items`` pads with -1 / ``-inf``.
    order
        Tie-break: a permutation of the item codes, preferred first, shape
        (n_items,). Default: lower code first.

    Returns
    -------
    items : (n, k) int64, scores : (n, k) float64
    """
    n, n_items = scores.shape
    width = min(n_items, max(_SAMPLE_PER_K * k, _SAMPLE_MIN))
    if n == 0 or k >= n_items or width >= n_items // 2:
        return _top_k_full(scores, k, order)
    sample = np.arange(width) if order is None else np.asarray(order[:width])
    part = scores[:, sample]
    part = np.where(np.isnan(part), -np.inf, part)
    bound = np.partition(part, width - k, axis=1)[:, width - k]  # k-th best of the sample
    full = np.flatnonzero(np.isneginf(bound))
    items = np.empty((n, k), dtype=np.int64)
    vals = np.empty((n, k))
    if full.size:
        items[full], vals[full] = _top_k_full(scores[full], k, order)
    fast = np.flatnonzero(~np.isneginf(bound))
    if fast.size == 0:
        return items, vals
    sub = scores[fast] if full.size else scores
    # Every fast row has at least k cells at or above its bound (its sample's best k),
    # and every cell of its top k is among them (NaN compares False: never chosen).
    r, c = np.nonzero(sub >= bound[fast][:, None])
    v = sub[r, c]
    if order is None:
        tie = c
    else:
        rank = np.empty(n_items, dtype=np.int64)
        rank[np.asarray(order)] = np.arange(n_items)
        tie = rank[c]
    sorted_ = np.lexsort((tie, -v, r))
    starts = np.searchsorted(r[sorted_], np.arange(fast.size))
    take = sorted_[starts[:, None] + np.arange(k)]
    items[fast] = c[take]
    vals[fast] = v[take]
    return items, vals


def _top_k_full(
    scores: np.ndarray, k: int, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` by a partition of every whole row (also pads ``k > n_items``)."""
    n, n_items = scores.shape
    scores = np.where(np.isnan(scores), -np.inf, scores)
    if order is not None:
        scores = scores[:, order]
    kk = min(k, n_items)
    if kk < n_items:
        # argpartition picks an arbitrary member of a tie at the cut, so only the
        # cut value is taken from it; ties at the cut go to the first columns.
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        cut = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
        better = scores > cut
        equal = scores == cut
        need = kk - better.sum(axis=1, keepdims=True)
        chosen = better | equal
        # Only rows with more ties at the cut than places left need the (costly)
        # running count; with continuous scores that is rarely any row.
        crowded = np.flatnonzero(equal.sum(axis=1) > need[:, 0])
        if crowded.size:
            sub = equal[crowded]
            chosen[crowded] = better[crowded] | (sub & (np.cumsum(sub, axis=1) <= need[crowded]))
        cols = np.nonzero(chosen)[1].reshape(n, kk)
    else:
        cols = np.broadcast_to(np.arange(n_items), (n, n_items))
    vals = np.take_along_axis(scores, cols, axis=1)
    rank = np.argsort(-vals, axis=1, kind="stable")
    items = np.take_along_axis(cols, rank, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, rank, axis=1)
    if order is not None:
        items = np.asarray(order, dtype=np.int64)[items]
    items[np.isneginf(vals)] = PAD_ITEM
    if kk < k:
        items = np.hstack([items, np.full((n, k - kk), PAD_ITEM, dtype=np.int64)])
        vals = np.hstack([vals, np.full((n, k - kk), -np.inf)])
    return items, vals


def per_user_max_scale(scores: np.ndarray) -> np.ndarray:
    """Clip at 0 and divide each row by its maximum, so a user's best item scores 1.

    Rows without a positive score become all zero. Shape (n, n_items) -> same.

    Parameters
    ----------
    scores
        Scores, shape (n, n_items).

    Returns
    -------
    numpy.ndarray
        Shape (n, n_items), in [0, 1].
    """
    out = np.maximum(scores, 0.0)
    top = out.max(axis=1, keepdims=True) if out.shape[1] else np.zeros((out.shape[0], 1))
    np.divide(out, top, out=out, where=top > 0)
    return out


def blocks(n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    step = max(1, _BLOCK_CELLS // max(n_cols, 1))
    return [(lo, min(lo + step, n_rows)) for lo in range(0, n_rows, step)]
