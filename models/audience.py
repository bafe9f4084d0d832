"""Audiences: the customers most likely to buy an item (or a category) soon (pure).

A customer's score for a target is their affinity for it times their chance of
ordering at all within the horizon:

    score = affinity × P(order within horizon)

Affinity is the recommender's score for the target item rescaled within the
customer's own scores over the whole catalogue (0 = their least likely item,
1 = their most likely), so it compares across customers whatever the scale of
the recommender's raw scores; a category takes its best item. Customers who
bought the target recently are left out by the caller's ``excluded`` mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

AFFINITY = "affinity"
P_ORDER = "p_order"
SCORE = "score"
RANK = "item_rank"


def affinity(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer affinity for the target items and the target's rank among their items.

    Parameters
    ----------
    scores
        Recommender scores, shape (n_customers, n_items); -inf / NaN = cannot score.
    targets
        Bool, shape (n_items,): the item, or the category's items.

    Returns
    -------
    (affinity, rank)
        Shape (n_customers,) each: affinity in [0, 1] (NaN if no finite score),
        and the best target's 1-based rank among the customer's items.
    """
    lo, hi = score_ranges(scores)
    best = best_target_score(scores[:, targets])
    return scaled_affinity(best, lo, hi), target_rank(scores, best)


def score_ranges(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's lowest and highest finite score, shape (n,) each; NaN without one.

    Parameters
    ----------
    scores
        Raw scores, shape (n, n_items).

    Returns
    -------
    lo, hi : numpy.ndarray
        Each shape (n,); NaN for a customer without a finite score.
    """
    s = np.where(np.isfinite(scores), scores, np.nan)
    # fmin/fmax skip NaN without nanmin's warning on a row that is all NaN.
    return np.fmin.reduce(s, axis=1), np.fmax.reduce(s, axis=1)


def best_target_score(target_scores: np.ndarray) -> np.ndarray:
    """The best finite raw score among the targets, shape (n,); -inf without one.

    ``target_scores`` has shape (n_customers, n_targets).

    Parameters
    ----------
    target_scores
        Raw scores of the target items, shape (n_customers, n_targets).

    Returns
    -------
    numpy.ndarray
        Shape (n_customers,); -inf without a finite target score.
    """
    finite = np.where(np.isfinite(target_scores), target_scores, -np.inf)
    return finite.max(axis=1, initial=-np.inf)


def scaled_affinity(best: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``best`` rescaled to [0, 1] within [lo, hi] (:func:`scaled_scores`); NaN if not finite.

    The rescaling is increasing, so the best target's scaled score is the
    scaled best score: this equals the best column of :func:`scaled_scores`.

    Parameters
    ----------
    best
        Best target score per customer, shape (n,).
    lo, hi
        Each customer's lowest and highest finite score, shape (n,) (:func:`score_ranges`).

    Returns
    -------
    numpy.ndarray
        Shape (n,), in [0, 1]; NaN where not finite.
    """
    span = np.where(hi > lo, hi - lo, 1.0)
    with np.errstate(invalid="ignore"):
        out = (best - lo) / span
    return np.where(np.isfinite(best), out, np.nan)


def target_rank(scores: np.ndarray, best: np.ndarray) -> np.ndarray:
    """1-based rank of the best target among each customer's items, shape (n,) int64.

    ``scores`` has shape (n, n_items), ``best`` shape (n,) from :func:`best_target_score`.

    Parameters
    ----------
    scores
        Raw scores, shape (n, n_items).
    best
        Best target score per customer, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n,), int64, 1 = the customer's top item.
    """
    return 1 + np.sum(np.nan_to_num(scores, nan=-np.inf) > best[:, None], axis=1)


def scaled_scores(scores: np.ndarray) -> np.ndarray:
    """Each customer's scores rescaled to [0, 1] over their own items, shape (n, n_items).

    Non-finite scores become NaN; a row without a finite score is all NaN.
    Column ``i`` is the affinity for the single item ``i`` (:func:`affinity`).

    Parameters
    ----------
    scores
        Raw scores, shape (n, n_items).

    Returns
    -------
    numpy.ndarray
        Shape (n, n_items), in [0, 1]; NaN where a score is not finite.
    """
    s = np.where(np.isfinite(scores), scores, np.nan)
    lo, hi = score_ranges(s)
    span = np.where(hi > lo, hi - lo, 1.0)[:, None]
    return (s - lo[:, None]) / span


def top_audience(
    customer_ids: pd.Index,
    affinity_: np.ndarray,
    p_order: np.ndarray,
    excluded: np.ndarray,
    n: int,
    *,
    rank: np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``n`` customers with the highest score (module docstring), best first.

    Parameters
    ----------
    customer_ids
        Shape (n_customers,).
    affinity_, p_order
        Shape (n_customers,); NaN affinity or P(order) never makes the audience.
    excluded
        Bool, shape (n_customers,): bought the target recently.
    n
        Most customers returned.
    rank
        Rank of the best target among each customer's items, shape (n_customers,); or None.

    Returns
    -------
    pandas.DataFrame
        Up to ``n`` rows: ``customer_id``, ``score``, ``affinity``, ``p_order``
        (and ``item_rank`` when given); ties by customer order.
    """
    score = affinity_ * p_order
    eligible = np.isfinite(score) & ~np.asarray(excluded, bool)
    idx = np.flatnonzero(eligible)
    order = idx[np.argsort(-score[idx], kind="stable")[:n]]
    out = pd.DataFrame(
        {
            "customer_id": np.asarray(customer_ids, dtype=object)[order].astype(str),
            SCORE: score[order],
            AFFINITY: affinity_[order],
            P_ORDER: p_order[order],
        }
    )
    if rank is not None:
        out[RANK] = np.asarray(rank)[order]
    return out


def reasons(
    row: Mapping[str, Any], *, horizon_days: int, n_items: int, bought_before: bool
) -> list[str]:
    """Short reasons for one audience member (a row of :func:`top_audience`), in a marketer's words.

    Parameters
    ----------
    row
        One row of :func:`top_audience`.
    horizon_days
        The horizon the order probability is over.
    n_items
        Size of the catalogue the rank is among.
    bought_before
        Whether the customer bought a target item before.

    Returns
    -------
    list of str
        Sentences, most telling first.
    """
    out = []
    if RANK in row and pd.notna(row[RANK]):
        out.append(f"ranks it #{int(row[RANK])} of {n_items:,} items for them")
    if bought_before:
        out.append("bought it before (not recently)")
    out.append(f"{row[P_ORDER]:.0%} chance of an order in the next {horizon_days} days")
    return out
