"""When will a customer order next? BG/NBD probabilities and the customer's own rhythm.

P(at least one order in the next t), from BG/NBD (Fader, Hardie & Lee 2005).
A customer alive at T with purchase rate λ orders in (T, T + t] unless the
Poisson clock does not tick: in BG/NBD a customer can drop out only right after a
purchase, so with no purchase there is no dropout either, and
P(no order in t | alive, λ) = exp(-λ t). Given the history (x, t_x, T) and alive,
λ ~ Gamma(r + x, α + T), so integrating over λ:

    P(no order in t | alive) = ((α + T) / (α + T + t)) ** (r + x)
    P(order in t)            = P(alive) * (1 - ((α + T) / (α + T + t)) ** (r + x))

(the conditional PMF of BG/NBD at zero, Fader & Hardie's note "Deriving the
conditional PMF of the BG/NBD model", evaluated at x* = 0). The waiting time to the
next order given alive is Lomax(shape r + x, scale α + T): its median is
(α + T)(2 ** (1 / (r + x)) - 1).

The expected date blends that median with the customer's rhythm (mean gap
between their orders minus the days since the last one, at least 0): customers
with many gaps lean on their rhythm, one-off buyers on the population model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.models.bgnbd import BetaGeoModel
from kizuna.models.btyd_inputs import (
    as_float_array,
    validate_rfm,
    validate_time,
)

P_ORDER = "p_order_{}d"
NEXT_ORDER_DAYS = "next_order_days"
NEXT_ORDER_DATE = "next_order_date"
BTYD_DAYS = "next_order_days_btyd"
RHYTHM_DAYS = "next_order_days_rhythm"
DEFAULT_HORIZONS = (30, 60, 90)


def probability_of_order(
    bgnbd: BetaGeoModel, t: Any, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """P(at least one order in the next ``t``) per customer (module docstring).

    Parameters
    ----------
    bgnbd
        A fitted BG/NBD model.
    t
        Horizon in the fit's time unit, scalar.
    frequency, recency, T
        Customer summaries, shape (n_customers,), in the fit's time unit.

    Returns
    -------
    ndarray, shape (n_customers,), values in [0, 1)
    """
    bgnbd.check_is_fitted()
    x, t_x, big_t = validate_rfm(frequency, recency, T)
    horizon = validate_time(t)
    p = bgnbd.params_
    none_if_alive = np.exp(
        (p["r"] + x) * (np.log(p["alpha"] + big_t) - np.log(p["alpha"] + big_t + horizon))
    )
    return bgnbd.probability_alive(x, t_x, big_t) * (1.0 - none_if_alive)


def median_wait_if_alive(bgnbd: BetaGeoModel, frequency: Any, T: Any) -> np.ndarray:
    """Median time to the next order for a customer still alive, shape (n_customers,).

    In the fit's time unit; recency does not enter (given alive, only x and T do).

    Parameters
    ----------
    bgnbd
        A fitted BG/NBD model.
    frequency, T
        Repeat purchases and age of each customer, shape (n_customers,), in the fit's unit.

    Returns
    -------
    numpy.ndarray
        Shape (n_customers,), in the fit's time unit.
    """
    bgnbd.check_is_fitted()
    x = as_float_array(frequency, "frequency")
    big_t = as_float_array(T, "T")
    p = bgnbd.params_
    return (p["alpha"] + big_t) * np.expm1(np.log(2.0) / (p["r"] + x))


def rhythm_wait_days(gap_mean_days: Any, recency_days: Any) -> np.ndarray:
    """Days until the customer's usual gap since the last order is over (0 if overdue).

    NaN for customers with a single order (no gap yet).

    Parameters
    ----------
    gap_mean_days
        Each customer's mean days between orders, shape (n_customers,); NaN with one order.
    recency_days
        Days since each customer's last order, shape (n_customers,).

    Returns
    -------
    numpy.ndarray
        Shape (n_customers,), days >= 0; NaN with a single order.
    """
    gap = np.asarray(gap_mean_days, dtype=float)
    recency = np.asarray(recency_days, dtype=float)
    return np.maximum(gap - recency, 0.0)


def blend_weights(n_gaps: Any, prior_gaps: float) -> np.ndarray:
    """Weight on the rhythm, ``n / (n + prior_gaps)``; 0 without a gap.

    Parameters
    ----------
    n_gaps
        Gaps between orders per customer, shape (n_customers,).
    prior_gaps
        How many gaps the BG/NBD answer weighs as.

    Returns
    -------
    numpy.ndarray
        Shape (n_customers,), in [0, 1).
    """
    n = np.maximum(np.asarray(n_gaps, dtype=float), 0.0)
    return n / (n + prior_gaps) if prior_gaps > 0 else (n > 0).astype(float)


def next_order(
    bgnbd: BetaGeoModel,
    summary: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    days_per_unit: float,
    horizons: tuple[int, ...] = DEFAULT_HORIZONS,
    prior_gaps: float = 3.0,
    frequency_col: str = s.REPEAT_PERIODS,
    recency_col: str = s.RECENCY,
    t_col: str = s.T,
    gap_col: str = s.GAP_MEAN_DAYS,
    recency_days_col: str = s.RECENCY_DAYS,
    orders_col: str = s.FREQUENCY,
) -> pd.DataFrame:
    """Next-order predictions for every customer of ``summary``.

    Parameters
    ----------
    bgnbd
        Fitted on summaries in the unit of ``days_per_unit`` days.
    summary
        One row per customer (index: id): the BTYD summary (frequency, recency,
        T in the model's unit), the mean gap between orders and days since the
        last order (NaN gap = one order), and the number of orders.
    as_of
        The instant the summaries describe; dates count from it.
    days_per_unit
        Days per BTYD time unit (7 for weeks).
    horizons
        Days for the ``p_order_{h}d`` columns.
    prior_gaps
        How many observed gaps count as much as the population model.
    frequency_col, recency_col, t_col, gap_col, recency_days_col, orders_col
        The summary's columns (the canonical ones by default).

    Returns
    -------
    pandas.DataFrame
        Same index: ``p_order_{h}d`` per horizon, ``next_order_days`` (blend),
        ``next_order_days_btyd``, ``next_order_days_rhythm`` and
        ``next_order_date`` (as_of + blend, rounded to the day).
    """
    x = summary[frequency_col].to_numpy(dtype=float)
    t_x = summary[recency_col].to_numpy(dtype=float)
    big_t = summary[t_col].to_numpy(dtype=float)
    out = pd.DataFrame(index=summary.index)
    for h in horizons:
        out[P_ORDER.format(h)] = probability_of_order(bgnbd, h / days_per_unit, x, t_x, big_t)
    btyd_days = median_wait_if_alive(bgnbd, x, big_t) * days_per_unit
    rhythm = rhythm_wait_days(summary[gap_col], summary[recency_days_col])
    n_gaps = summary[orders_col].to_numpy(dtype=float) - 1.0
    w = np.where(np.isnan(rhythm), 0.0, blend_weights(n_gaps, prior_gaps))
    days = w * np.nan_to_num(rhythm) + (1.0 - w) * btyd_days
    out[NEXT_ORDER_DAYS] = days
    out[BTYD_DAYS] = btyd_days
    out[RHYTHM_DAYS] = rhythm
    out[NEXT_ORDER_DATE] = (
        pd.Timestamp(as_of) + pd.to_timedelta(np.round(days), unit="D")
    ).normalize()
    return out
