"""Evaluation metrics, one section per model family.

Ranking metrics (recommenders)
    Recommendations are an integer array of item codes, shape (n_users, k),
    best first, ``-1`` (any negative code) for padding. The ground truth is,
    per user, the set of relevant item codes: a list of arrays, or a sparse
    matrix whose non-zero cells are relevant (shape (n_users, n_codes)).
    Relevance is binary. Truth codes may lie outside the recommender's
    catalogue (items first sold after training): they count in the size of the
    truth but can never be hit. Users with an empty truth are left out of the
    averages (their metrics are undefined); ``ranking_metrics`` reports how
    many users were averaged.

Classification metrics are in :mod:`training.metrics_tabular`, regression metrics in
:mod:`training.metrics_regression`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kizuna.features.errors import KizunaInputError
from kizuna.training.metrics_coverage import (
    catalogue_coverage,
    check_cutoff,
    check_recommended,
    mean_popularity,
)
from kizuna.training.ranking_truth import Truth, TruthIndex

# =====================================================================================
# Ranking metrics (recommenders)
# =====================================================================================

RANKING_METRICS: tuple[str, ...] = (
    "precision", "recall", "ndcg", "map", "coverage", "mean_popularity", "n_users",
)  # fmt: skip


def hit_matrix(
    recommended: Any, truth: Truth | TruthIndex, k: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Which recommendations are relevant, and how many relevant items each user has.

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.
    truth
        Relevant codes per user: list of n arrays, or sparse (n, n_codes); or
        a :class:`TruthIndex` of n users, built once for many rankings.
    k
        Cut-off (default ``width``); at most ``width``.

    Returns
    -------
    hits : ndarray, shape (n, k) bool
    n_relevant : ndarray, shape (n,) int64 (distinct relevant codes)
    """
    recs = check_recommended(recommended)
    n, width = recs.shape
    k = width if k is None else check_cutoff(k, width)
    index = truth if isinstance(truth, TruthIndex) else TruthIndex(truth, n)
    if index.n != n:
        raise KizunaInputError(
            f"has {n} rows but the truth has {index.n} users", column="recommended"
        )
    return index.hits(recs[:, :k]), index.n_relevant


def precision_at_k(recommended: Any, truth: Truth, k: int | None = None) -> float:
    """Mean over users of hits@k / k.

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.
    truth
        Relevant codes per user: list of n arrays, or sparse (n, n_codes).
    k
        Cut-off (default ``width``); at most ``width``.

    Returns
    -------
    float
    """
    hits, n_rel = hit_matrix(recommended, truth, k)
    return _mean(hits.sum(axis=1) / hits.shape[1], n_rel)


def recall_at_k(recommended: Any, truth: Truth, k: int | None = None) -> float:
    """Mean over users of hits@k / |truth| (not capped at k).

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.
    truth
        Relevant codes per user: list of n arrays, or sparse (n, n_codes).
    k
        Cut-off (default ``width``); at most ``width``.

    Returns
    -------
    float
    """
    hits, n_rel = hit_matrix(recommended, truth, k)
    return _mean(hits.sum(axis=1) / np.maximum(n_rel, 1), n_rel)


def ndcg_at_k(recommended: Any, truth: Truth | TruthIndex, k: int | None = None) -> float:
    """Mean NDCG@k with binary relevance.

    DCG = sum over ranks r = 1..k of hit_r / log2(r + 1); the ideal DCG puts
    ``min(k, |truth|)`` hits at the top.

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.
    truth
        Relevant codes per user: list of n arrays, sparse (n, n_codes), or a
        :class:`TruthIndex` built once.
    k
        Cut-off (default ``width``); at most ``width``.

    Returns
    -------
    float
    """
    hits, n_rel = hit_matrix(recommended, truth, k)
    return _mean(_ndcg_rows(hits, n_rel), n_rel)


def ndcg_of_hits(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    """Mean NDCG over users from their hit matrix, as :func:`ndcg_at_k` computes it.

    For a grid that ranks the same candidates many times (the blend-weight
    tuning): their relevance is looked up once (:meth:`TruthIndex.hits` of the
    candidates), and each ranking's hits are a gather of it.

    Parameters
    ----------
    hits
        Shape (n, k) bool: whether each user's item at rank r is relevant.
    n_relevant
        Shape (n,) int: distinct relevant items per user (users with none are left out).

    Returns
    -------
    float
        NaN when no user has a relevant item.
    """
    return _mean(_ndcg_rows(hits, n_relevant), n_relevant)


def map_at_k(recommended: Any, truth: Truth, k: int | None = None) -> float:
    """Mean average precision@k: sum of precision@r at each hit r, over min(k, |truth|).

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.
    truth
        Relevant codes per user: list of n arrays, or sparse (n, n_codes).
    k
        Cut-off (default ``width``); at most ``width``.

    Returns
    -------
    float
    """
    hits, n_rel = hit_matrix(recommended, truth, k)
    return _mean(_ap_rows(hits, n_rel), n_rel)


def per_user_ranking_metrics(
    recommended: Any, truth: Truth, k: int | None = None
) -> dict[str, np.ndarray]:
    """Precision, recall, NDCG and AP at k for each user, shape (n,) each.

    Users with an empty truth get NaN. For paired comparisons of two models
    (bootstrap over users) and per-segment breakdowns.

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.
    truth
        Relevant codes per user: list of n arrays, or sparse (n, n_codes).
    k
        Cut-off (default ``width``); at most ``width``.

    Returns
    -------
    dict of str -> numpy.ndarray
        ``precision``, ``recall``, ``ndcg``, ``ap``, each shape (n,).
    """
    hits, n_rel = hit_matrix(recommended, truth, k)
    kk = hits.shape[1]
    n_hits = hits.sum(axis=1)
    out = {
        "precision": n_hits / kk,
        "recall": n_hits / np.maximum(n_rel, 1),
        "ndcg": _ndcg_rows(hits, n_rel),
        "map": _ap_rows(hits, n_rel),
    }
    empty = n_rel == 0
    for values in out.values():
        values[empty] = np.nan
    return out


def ranking_metrics(
    recommended: Any,
    truth: Truth,
    *,
    k: int | None = None,
    n_items: int | None = None,
    item_popularity: Any = None,
) -> dict[str, float]:
    """Every ranking metric at once (one hit computation).

    Parameters
    ----------
    recommended
        Item codes, shape (n, width) int, best first; negative = padding.
    truth
        Relevant codes per user: list of n arrays, or sparse (n, n_codes).
    k
        Cut-off (default ``width``); at most ``width``.
    n_items
        Size of the catalogue, for ``coverage``; or None.
    item_popularity
        Popularity per item code, shape (n_items,), for ``mean_popularity``; or None.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``ndcg``, ``map`` (means over users with a
        non-empty truth), ``n_users`` (how many), and ``coverage`` /
        ``mean_popularity`` when ``n_items`` / ``item_popularity`` are given
        (over all rows of ``recommended``).
    """
    per_user = per_user_ranking_metrics(recommended, truth, k)
    kk = np.asarray(recommended).shape[1] if k is None else k
    counted = ~np.isnan(per_user["ndcg"])
    out = {
        name: float(values[counted].mean()) if counted.any() else float("nan")
        for name, values in per_user.items()
    }
    out["n_users"] = float(counted.sum())
    if n_items is not None:
        out["coverage"] = catalogue_coverage(recommended, n_items, kk)
    if item_popularity is not None:
        out["mean_popularity"] = mean_popularity(recommended, item_popularity, kk)
    return out


def _ndcg_rows(hits: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    k = hits.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discount
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n_rel, k)]
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def _ap_rows(hits: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    k = hits.shape[1]
    precision_at_r = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    total = (precision_at_r * hits).sum(axis=1)
    denom = np.minimum(n_rel, k)
    return np.divide(total, denom, out=np.zeros_like(total), where=denom > 0)


def _mean(per_user: np.ndarray, n_rel: np.ndarray) -> float:
    keep = n_rel > 0
    return float(per_user[keep].mean()) if keep.any() else float("nan")
