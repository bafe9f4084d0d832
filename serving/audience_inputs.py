"""Who may be in an audience: each customer's P(order) and the recent buyers of the target.

Inputs of :func:`serving.audience.audience_frame`, read from a :class:`serving.live.Served`
snapshot.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kizuna.features import schema as s
from kizuna.features.pipeline import TIME_SCALERS, btyd_columns
from kizuna.features.recent_buyers import recent_item_lines
from kizuna.models.next_order import probability_of_order
from kizuna.serving.next_order import bundle_with_bgnbd


def p_order_all(served: Any, horizon_days: int) -> np.ndarray:
    """P(order within ``horizon_days``) for every customer of the state, shape (n_customers,).

    Parameters
    ----------
    served
        The loaded snapshot.
    horizon_days
        The horizon, in days.

    Returns
    -------
    numpy.ndarray
        Shape (n_customers,), in [0, 1].
    """
    st = served.state
    kind, bundle = bundle_with_bgnbd(served)
    out = np.full(st.n_customers, np.nan)
    if bundle is None:
        return out
    frame = st.frames[kind]
    pos = frame.index.get_indexer(st.features.index)
    ok = pos >= 0
    freq, rec, big_t, _ = btyd_columns()
    part = frame.iloc[pos[ok]]
    out[ok] = probability_of_order(
        bundle.bgnbd,
        horizon_days / TIME_SCALERS[bundle.btyd_unit],
        part[freq],
        part[rec],
        part[big_t],
    )
    return out


def recent_buyers(st: Any, customer_ids: list[str], targets: np.ndarray, days: float) -> np.ndarray:
    """Bool, shape (len(customer_ids),): bought or returned a target item in the ``days`` before
    as_of (:func:`features.recent_buyers.recent_item_lines`).

    Parameters
    ----------
    st
        The serving state.
    customer_ids
        Customer ids.
    targets
        Target item codes, shape (n_targets,).
    days
        How far back a purchase counts as recent.

    Returns
    -------
    numpy.ndarray
        Shape (len(customer_ids),), bool.
    """
    if days <= 0 or not customer_ids:
        return np.zeros(len(customer_ids), bool)
    lines = st.customers_lines(customer_ids, [s.CUSTOMER_ID, s.ITEM_ID, s.TIMESTAMP, s.QUANTITY])
    if len(lines) == 0:
        return np.zeros(len(customer_ids), bool)
    items = set(np.asarray(st.catalogue.item_ids, dtype=object)[targets].astype(str))
    hit = recent_item_lines(lines, st.as_of, days) & lines[s.ITEM_ID].astype(str).isin(items)
    return np.isin(
        np.asarray(customer_ids, dtype=object), lines.loc[hit, s.CUSTOMER_ID].astype(str).unique()
    )


def skip_recent_buyers(
    st: Any, score: np.ndarray, targets: np.ndarray, days: float, n: int
) -> np.ndarray:
    """Bool over customers: the recent buyers met while walking down the ranking to fill ``n``.

    Only the customers the audience could reach are looked up (their lines are
    read in blocks), not the whole history.

    Parameters
    ----------
    st
        The serving state.
    score
        Each customer's audience score, shape (n_customers,); NaN: never a member.
    targets
        Target item mask or codes over the catalogue.
    days
        How far back a purchase counts as recent.
    n
        The audience size to fill.

    Returns
    -------
    numpy.ndarray
        Shape (n_customers,), bool.
    """
    excluded = np.zeros(len(score), bool)
    ids = np.asarray(st.features.index, dtype=object)
    finite = np.flatnonzero(np.isfinite(score))
    order = finite[np.argsort(-score[finite], kind="stable")]
    kept, block = 0, max(2 * n, 256)
    for lo in range(0, len(order), block):
        idx = order[lo : lo + block]
        flags = recent_buyers(st, [str(i) for i in ids[idx]], targets, days)
        for i, flag in zip(idx, flags, strict=True):
            if flag:
                excluded[i] = True
            else:
                kept += 1
                if kept == n:
                    return excluded
    return excluded
