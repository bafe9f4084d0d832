"""Next-order predictions judged on the holdout: calibration and error in days.

At the test snapshot's ``as_of`` every customer of the churn population gets
P(order within 30/60/90 days) and an expected next-order date
(:mod:`models.next_order`); the holdout says whether and when they ordered.

- calibration: mean predicted against observed rate per horizon, the Brier score,
  and observed rate by decile of P(order within 90 days);
- error in days: mean absolute error of the expected date for customers who came
  back within the horizon, for the blend, BG/NBD alone and the rhythm alone
  (customers without a rhythm use BG/NBD there too).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.kpis import orders_before
from kizuna.models.next_order import (
    BTYD_DAYS,
    DEFAULT_HORIZONS,
    NEXT_ORDER_DAYS,
    P_ORDER,
    RHYTHM_DAYS,
)
from kizuna.serving.next_order import predict_next_order


def days_to_next_order(
    transactions: pd.DataFrame, as_of: pd.Timestamp, customer_ids: pd.Index
) -> pd.Series:
    """Days from ``as_of`` to each customer's first order at or after it (NaN: none in the data).

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    as_of
        The instant waited from.
    customer_ids
        The customers, shape (n,).

    Returns
    -------
    pandas.Series
        Indexed by ``customer_ids``, days; NaN without a later order.
    """
    end = pd.Timestamp(transactions[s.TIMESTAMP].max()) + pd.Timedelta(days=1)
    orders = orders_before(transactions, end)
    later = orders[orders[s.TIMESTAMP] >= as_of]
    first = later.groupby(s.CUSTOMER_ID)[s.TIMESTAMP].min()
    return ((first - as_of) / pd.Timedelta(days=1)).reindex(customer_ids.astype(str))


#: Candidate weights of the population model against the rhythm (0: rhythm only
#: wherever there is one; 1e9: BG/NBD only).
PRIOR_GAPS_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 1e9)


def choose_prior_gaps(
    transactions: pd.DataFrame,
    X: pd.DataFrame,
    bgnbd: Any,
    as_of: pd.Timestamp,
    *,
    horizon_days: int,
    btyd_unit: str,
    grid: tuple[float, ...] = PRIOR_GAPS_GRID,
) -> float:
    """The blend weight with the lowest MAE in days at ``as_of`` (the validation snapshot).

    Only orders in ``[as_of, as_of + horizon_days)`` are read, so a validation
    ``as_of`` one horizon before the test one never sees the test window.

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    X
        The validation snapshot's features, shape (n, p).
    bgnbd
        The fitted BG/NBD model.
    as_of
        The validation snapshot's instant.
    horizon_days
        The window read after it.
    btyd_unit
        ``"W"`` or ``"D"``.
    grid
        The candidate weights.

    Returns
    -------
    float
    """
    if bgnbd is None or X.empty:
        return 3.0
    actual = days_to_next_order(transactions, as_of, X.index).to_numpy()
    came_back = actual < horizon_days
    if not came_back.any():
        return 3.0
    errors = []
    for prior in grid:
        pred = _predict(X, bgnbd, as_of, btyd_unit, prior)
        errors.append(
            np.mean(np.abs(pred[NEXT_ORDER_DAYS].to_numpy()[came_back] - actual[came_back]))
        )
    return float(grid[int(np.argmin(errors))])


def _predict(
    X: pd.DataFrame, bgnbd: Any, as_of: pd.Timestamp, btyd_unit: str, prior: float
) -> pd.DataFrame:
    return predict_next_order(bgnbd, X, as_of, btyd_unit=btyd_unit, prior_gaps=prior)


def evaluate_next_order(
    transactions: pd.DataFrame,
    X: pd.DataFrame,
    bgnbd: Any,
    as_of: pd.Timestamp,
    *,
    horizon_days: int,
    btyd_unit: str,
    prior_gaps: float = 3.0,
    bins: int = 10,
) -> dict[str, float]:
    """Holdout metrics (module docstring) as flat ``next_order_*`` names for MLflow.

    Parameters
    ----------
    X
        The test snapshot's model inputs, indexed by customer id (BTYD summary,
        gap and recency columns).
    bgnbd
        The BG/NBD fit on that snapshot.
    transactions
        Validated lines, shape (n, k).
    as_of
        The holdout's start.
    horizon_days
        The holdout window, in days.
    btyd_unit
        ``"W"`` or ``"D"``.
    prior_gaps
        The blend weight of the BG/NBD answer, in gaps.
    bins
        Number of bins of the calibration table.

    Returns
    -------
    dict of str -> float
    """
    if bgnbd is None or X.empty:
        return {}
    pred = _predict(X, bgnbd, as_of, btyd_unit, prior_gaps)
    actual = days_to_next_order(transactions, as_of, X.index).to_numpy()
    out: dict[str, float] = {
        "next_order_customers": float(len(X)),
        "next_order_prior_gaps": prior_gaps,
    }
    for h in DEFAULT_HORIZONS:
        p = pred[P_ORDER.format(h)].to_numpy()
        y = (actual < h).astype(float)  # NaN (no later order) compares False
        out[f"next_order_p{h}_predicted"] = float(p.mean())
        out[f"next_order_p{h}_observed"] = float(y.mean())
        out[f"next_order_p{h}_brier"] = float(np.mean((p - y) ** 2))
    p90, y90 = pred[P_ORDER.format(90)].to_numpy(), (actual < 90).astype(float)
    order = np.argsort(p90, kind="stable")
    for b, idx in enumerate(np.array_split(order, bins)):
        if len(idx):
            out[f"next_order_p90_bin{b}_predicted"] = float(p90[idx].mean())
            out[f"next_order_p90_bin{b}_observed"] = float(y90[idx].mean())
    came_back = actual < horizon_days
    out["next_order_returned"] = float(came_back.sum())
    if came_back.any():
        truth = actual[came_back]
        rhythm = pred[RHYTHM_DAYS].to_numpy()
        rhythm = np.where(np.isnan(rhythm), pred[BTYD_DAYS].to_numpy(), rhythm)
        for name, guess in (
            ("", pred[NEXT_ORDER_DAYS].to_numpy()),
            ("_btyd", pred[BTYD_DAYS].to_numpy()),
            ("_rhythm", rhythm),
        ):
            out[f"next_order_mae_days{name}"] = float(np.mean(np.abs(guess[came_back] - truth)))
    return out
