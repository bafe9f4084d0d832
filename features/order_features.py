"""Per-customer features of the order table: RFM, windows, gaps between orders, trends.

:func:`features.behaviour.behaviour_vector` builds the order table (one entry
per order: its customer code, time and revenue, all before ``as_of``) and reads
its customers' order features from :func:`order_features`. Same definitions as
there: population standard deviations, half-open windows ``[as_of - w days, as_of)``.
"""

from __future__ import annotations

import numpy as np

from kizuna.features import schema as s
from kizuna.features.columnar import DAY_NS


def days(ns: np.ndarray) -> np.ndarray:
    """Nanosecond durations as (fractional) days, same shape.

    Parameters
    ----------
    ns
        Durations in nanoseconds, any shape.

    Returns
    -------
    numpy.ndarray
        Float days, the shape of ``ns``.
    """
    return ns / DAY_NS


def order_features(
    order_cust: np.ndarray,
    order_ts: np.ndarray,
    order_rev: np.ndarray,
    n_cust: int,
    as_of: int,
    windows: tuple[int, ...],
    trend_days: int,
) -> dict[str, np.ndarray]:
    """Per-customer features from the order table, shape (n_cust,) each.

    Parameters
    ----------
    order_cust, order_ts, order_rev
        One entry per order, shape (n_orders,): customer code (0 .. n_cust - 1),
        time (ns, before ``as_of``) and gross revenue.
    as_of
        The cut-off, ns.
    windows, trend_days
        Window lengths in days (``orders_{w}d``, ``revenue_{w}d``); the trend
        compares the last ``trend_days`` with the ``trend_days`` before them.
    n_cust
        Number of customers.

    Returns
    -------
    dict of str -> numpy.ndarray
        Feature name -> values, shape (n_cust,).
    """
    freq = np.bincount(order_cust, minlength=n_cust)
    f = np.where(freq > 0, freq, 1).astype(float)
    total = np.bincount(order_cust, weights=order_rev, minlength=n_cust)
    mean = total / f
    dev = order_rev - mean[order_cust]
    first = np.full(n_cust, np.iinfo(np.int64).max)
    last = np.full(n_cust, np.iinfo(np.int64).min)
    np.minimum.at(first, order_cust, order_ts)
    np.maximum.at(last, order_cust, order_ts)
    recency = days(as_of - last)
    cols: dict[str, np.ndarray] = {
        s.RECENCY_DAYS: recency,
        s.FREQUENCY: freq,
        s.MONETARY_TOTAL: total,
        s.MONETARY_MEAN: mean,
        s.MONETARY_STD: np.sqrt(np.bincount(order_cust, weights=dev * dev, minlength=n_cust) / f),
        s.TENURE_DAYS: days(as_of - first),
    }
    age = as_of - order_ts  # > 0 for every order

    def per_customer(mask: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        weights = mask if values is None else np.where(mask, values, 0.0)
        return np.bincount(order_cust, weights=weights, minlength=n_cust)

    for w in windows:
        inside = age <= w * DAY_NS  # order_ts >= as_of - w: the left edge is in
        cols[f"orders_{w}d"] = per_customer(inside).astype(np.int64)
        cols[f"revenue_{w}d"] = per_customer(inside, order_rev)
    gap_mean, gap_std = gap_stats(order_cust, order_ts, first, last, freq)
    cols[s.GAP_MEAN_DAYS] = gap_mean
    cols[s.GAP_STD_DAYS] = gap_std
    with np.errstate(divide="ignore", invalid="ignore"):
        # Two orders an hour apart are one visit: a usual gap under a day counts as a
        # day, or the ratio explodes into the thousands for such customers.
        cols[s.RECENCY_RATIO] = np.where(gap_mean > 0, recency / np.maximum(gap_mean, 1.0), np.nan)
    recent = age <= trend_days * DAY_NS
    prior = ~recent & (age <= 2 * trend_days * DAY_NS)
    cols[s.REVENUE_TREND] = trend_ratio(
        per_customer(recent, order_rev), per_customer(prior, order_rev)
    )
    cols[s.ORDER_TREND] = trend_ratio(per_customer(recent), per_customer(prior))
    return cols


def gap_stats(
    order_cust: np.ndarray,
    order_ts: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    freq: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of days between consecutive orders, NaN with < 2 orders.

    Parameters
    ----------
    order_cust
        Customer code of each order, shape (n_orders,).
    order_ts
        Timestamp of each order in nanoseconds, shape (n_orders,).
    first, last
        Each customer's first and last order timestamp in nanoseconds, shape (n_customers,).
    freq
        Each customer's number of orders, shape (n_customers,).

    Returns
    -------
    mean, std : numpy.ndarray
        Each shape (n_customers,), days; NaN with fewer than 2 orders.
    """
    n_gaps = np.maximum(freq - 1, 0)
    has_gap = n_gaps > 0
    safe = np.where(has_gap, n_gaps, 1)
    # The mean telescopes to (last - first) / (n - 1): exact, without the sort.
    mean = np.where(has_gap, days(last - np.where(has_gap, first, last)) / safe, np.nan)
    # Sort orders by (customer, time) through one int64 key (customer, time rank):
    # about 3x faster than np.lexsort. Orders of a time-sorted log already come
    # in time order, and then the rank is free.
    n = order_ts.size
    if n and np.all(order_ts[1:] >= order_ts[:-1]):
        rank = np.arange(n, dtype=np.int64)
    else:
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(order_ts, kind="stable")] = np.arange(n, dtype=np.int64)
    order = np.argsort(order_cust * max(n, 1) + rank)
    sc, st = order_cust[order], order_ts[order]
    same = sc[1:] == sc[:-1]
    gc = sc[1:][same]
    dev = days(st[1:][same] - st[:-1][same]) - mean[gc]
    var = np.bincount(gc, weights=dev * dev, minlength=freq.size) / safe
    return mean, np.where(has_gap, np.sqrt(var), np.nan)


def trend_ratio(recent: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(recent - prior) / (recent + prior) per customer, in [-1, 1]; 0 with neither.

    Parameters
    ----------
    recent, prior
        Per-customer amounts of the recent and the prior window, shape (n_customers,).

    Returns
    -------
    numpy.ndarray
        Shape (n_customers,), in [-1, 1].
    """
    both = recent + prior
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(both > 0, (recent - prior) / both, 0.0)
    return np.clip(out, -1.0, 1.0)
