"""Ranking metrics that need no ground truth, and the checks every ranking metric shares.

Recommendations are an integer array of item codes, shape (n_users, k), best first,
``-1`` (any negative code) for padding (see :mod:`training.metrics`). Catalogue coverage
and mean popularity look only at what is shown; :func:`check_recommended` and
:func:`check_cutoff` refuse a malformed array or cut-off before any metric is computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kizuna.features.errors import KizunaInputError


def catalogue_coverage(recommended: Any, n_items: int, k: int | None = None) -> float:
    """Share of the catalogue's ``n_items`` that appear in anyone's top-k.

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.
    n_items
        Size of the catalogue.
    k
        Cut-off (default ``width``); at most ``width``.

    Returns
    -------
    float
    """
    recs = check_recommended(recommended)
    k = recs.shape[1] if k is None else check_cutoff(k, recs.shape[1])
    if not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise KizunaInputError("must be a positive integer", column="n_items", values=[n_items])
    shown = recs[:, :k]
    shown = shown[(shown >= 0) & (shown < n_items)]
    return float(np.unique(shown).size / n_items)


def mean_popularity(recommended: Any, item_popularity: Any, k: int | None = None) -> float:
    """Mean ``item_popularity`` (e.g. share of customers who bought it) of recommended items.

    Parameters
    ----------
    recommended
        Shape (n, width); padding is skipped.
    item_popularity
        Shape (n_items,), indexed by item code.
    k
        Cut-off (default ``width``); at most ``width``.

    Returns
    -------
    float
    """
    recs = check_recommended(recommended)
    k = recs.shape[1] if k is None else check_cutoff(k, recs.shape[1])
    pop = np.asarray(item_popularity, dtype=np.float64)
    if pop.ndim != 1:
        raise KizunaInputError("must be 1-D, one value per item", column="item_popularity")
    shown = recs[:, :k]
    shown = shown[shown >= 0]
    if shown.size and shown.max() >= pop.size:
        raise KizunaInputError(
            f"has {pop.size} items but a recommended code is {int(shown.max())}",
            column="item_popularity",
        )
    return float(pop[shown].mean()) if shown.size else float("nan")


def check_recommended(recommended: Any) -> np.ndarray:
    """The recommendations as int64, refused unless 2-D integer with no item twice in a row.

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.

    Returns
    -------
    numpy.ndarray
        Shape (n, width), int64.
    """
    recs = np.asarray(recommended)
    if recs.ndim != 2 or not (recs.size == 0 or np.issubdtype(recs.dtype, np.integer)):
        raise KizunaInputError(
            f"must be a 2-D integer array (users x k), got {recs.dtype} {recs.shape}",
            column="recommended",
        )
    recs = recs.astype(np.int64, copy=False)
    if recs.shape[1] > 1:
        ordered = np.sort(recs, axis=1)
        dup = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
        if dup.any():
            rows = np.flatnonzero(dup.any(axis=1))
            raise KizunaInputError(
                f"{rows.size} rows recommend the same item twice (rows shown)",
                column="recommended", values=rows,
            )  # fmt: skip
    return recs


def check_cutoff(k: Any, width: int) -> int:
    """``k`` as an int, refused unless an integer in ``[1, width]``.

    Parameters
    ----------
    k
        The cut-off to check.
    width
        How many recommendations each row has.

    Returns
    -------
    int
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= width:
        raise KizunaInputError(f"must be an integer in [1, {width}]", column="k", values=[k])
    return int(k)
