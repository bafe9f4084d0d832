"""Customer x candidate-item features of the re-ranker (stage two of the recommender).

For each user and each candidate item: every generator's score and its rank
among the user's candidates; how often and how long ago the user bought the
item, against their own usual interval for it and the item's population
interval; the user's order rhythm; the item's popularity, trend, age and price
against the user's usual price; and the user's share of purchases in the
item's category. Missing values (a user never bought the item, nobody bought
it twice, no timing known) are NaN, which LightGBM routes on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kizuna.features.purchase_timing import own_interval
from kizuna.models.recommenders.candidates import GENERATORS

FEATURES: tuple[str, ...] = (
    *(f"{g}_score" for g in GENERATORS),
    *(f"{g}_rank" for g in GENERATORS),
    "blend_score", "blend_rank",
    "count", "count_share", "recent_count", "user_items", "user_order_rate",
    "days_since_item", "first_item_share", "own_interval", "own_due_ratio",
    "item_interval", "item_due_ratio", "days_since_order", "user_gap",
    "item_popularity", "item_trend", "trend_lift", "item_age_share",
    "item_price", "price_ratio", "category_share",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class ItemContext:
    """Per-item inputs, each shape (n_items,) float64 (``category``: int codes, -1 none).

    ``history_days``: days since the first sale of any item (the length of the
    history), which turns counts and ages into rates and shares.
    """

    history_days: float
    popularity: np.ndarray
    trend: np.ndarray
    age_days: np.ndarray
    interval: np.ndarray
    price: np.ndarray
    category: np.ndarray


def candidate_features(
    gen_scores: np.ndarray,
    blend: np.ndarray,
    cols: np.ndarray,
    valid: np.ndarray,
    rows: sp.csr_matrix,
    timing_rows: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray] | None,
    items: ItemContext,
) -> np.ndarray:
    """Feature tensor of each user's candidates, shape (n, m, len(FEATURES)) float32.

    Parameters
    ----------
    gen_scores
        Generator scores, shape (n_generators, n, n_items).
    blend
        The hybrid's blend weights of the mode, shape (n_generators - 1,): the
        blended score is a feature.
    cols, valid
        Candidate item codes and whether each is one (False: padding), (n, m).
        Ranks are taken among a user's candidates only.
    rows
        The users' count histories, ``csr_matrix`` (n, n_items).
    timing_rows
        ``(last_days, first_days, recent_orders, user_stats)`` for these
        users: CSR (n, n_items) each and (n, 4) of days since last order, days
        since first order, orders, median price (NaN rows: unknown user); or
        None.
    items
        Per-item inputs.

    Returns
    -------
    numpy.ndarray
        Shape (n, m, len(FEATURES)), float32.
    """
    n, m = cols.shape
    out = np.full((n, m, len(FEATURES)), np.nan, dtype=np.float32)
    g = len(GENERATORS)
    at = np.take_along_axis(gen_scores, np.broadcast_to(cols, (g, n, m)), axis=2)
    at = np.where(valid[None], at, 0.0)  # padding must not shift a user's ranks
    out[:, :, :g] = np.moveaxis(at, 0, 2)
    out[:, :, g : 2 * g] = np.moveaxis(_ranks(at), 0, 2)
    f = {name: j for j, name in enumerate(FEATURES)}
    blended = np.tensordot(blend, at[: blend.size], axes=1)
    out[:, :, f["blend_score"]] = blended
    out[:, :, f["blend_rank"]] = _ranks(blended[None])[0]
    counts = _gather(rows, cols)
    totals = np.asarray(rows.sum(axis=1), dtype=np.float64)
    out[:, :, f["count"]] = counts
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, :, f["count_share"]] = counts / totals
    out[:, :, f["user_items"]] = np.diff(rows.indptr)[:, None]
    seen = counts > 0
    if timing_rows is not None:
        last_m, first_m, recent_m, user = timing_rows
        out[:, :, f["recent_count"]] = np.where(seen, _gather(recent_m, cols), np.nan)
        last = np.where(seen, _gather(last_m, cols), np.nan)
        first = np.where(seen, _gather(first_m, cols), np.nan)
        interval = own_interval(first, last, counts)
        out[:, :, f["days_since_item"]] = last
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, :, f["first_item_share"]] = first / items.history_days
        out[:, :, f["own_interval"]] = interval
        out[:, :, f["item_interval"]] = items.interval[cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, :, f["own_due_ratio"]] = last / interval
            out[:, :, f["item_due_ratio"]] = last / items.interval[cols]
            gap = (user[:, 1] - user[:, 0]) / (user[:, 2] - 1)
            out[:, :, f["price_ratio"]] = items.price[cols] / user[:, 3][:, None]
        out[:, :, f["days_since_order"]] = user[:, 0][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = 30.0 * user[:, 2] / np.maximum(user[:, 1], 30.0)
        out[:, :, f["user_order_rate"]] = rate[:, None]
        out[:, :, f["user_gap"]] = np.where(user[:, 2] >= 2, gap, np.nan)[:, None]
    # Shares and rates, not counts: the history grows from one cutoff to the next.
    total = max(float(items.popularity.sum()), 1.0)
    out[:, :, f["item_popularity"]] = items.popularity[cols] / total
    out[:, :, f["item_trend"]] = items.trend[cols] / max(float(items.trend.sum()), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weekly = items.popularity[cols] * 7.0 / items.history_days
        out[:, :, f["trend_lift"]] = items.trend[cols] / weekly
        out[:, :, f["item_age_share"]] = items.age_days[cols] / items.history_days
    out[:, :, f["item_price"]] = items.price[cols]
    out[:, :, f["category_share"]] = _category_share(rows, cols, items.category, totals)
    return out


def _ranks(at: np.ndarray) -> np.ndarray:
    """Rank (0 = best) of each candidate within the user's candidates, per generator; NaN at 0."""
    order = np.argsort(-at, axis=2, kind="stable")
    ranks = np.empty_like(at)
    np.put_along_axis(ranks, order, np.arange(at.shape[2], dtype=at.dtype)[None, None], axis=2)
    return np.where(at > 0, ranks, np.nan)


def _gather(matrix: sp.csr_matrix, cols: np.ndarray) -> np.ndarray:
    """``matrix[r, cols[r, j]]`` as a dense (n, m) float64 array (0 where absent)."""
    return np.take_along_axis(matrix.toarray(), cols, axis=1).astype(np.float64)


def _category_share(
    rows: sp.csr_matrix, cols: np.ndarray, category: np.ndarray, totals: np.ndarray
) -> np.ndarray:
    """Share of the user's purchases in each candidate's category, (n, m); NaN without one."""
    if category.size == 0 or category.max(initial=-1) < 0:
        return np.full(cols.shape, np.nan)
    known = category >= 0
    onehot = sp.csr_matrix(
        (np.ones(known.sum()), (np.flatnonzero(known), category[known])),
        shape=(category.size, int(category.max()) + 1),
    )
    per_cat = np.asarray((rows @ onehot).todense(), dtype=np.float64)
    cat = category[cols]
    share = np.take_along_axis(per_cat, np.maximum(cat, 0), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cat >= 0, share / totals, np.nan)
