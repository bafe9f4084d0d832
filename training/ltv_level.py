"""How the level of horizon revenue moves from window to window: can a model learn it?

An LTV model gets two things right or wrong: *who* spends (the ranking) and
*how much* the population spends in the coming horizon (the level, which sets
the total). The level can only be learned from windows that ended before
``as_of``. This module measures, at rolling cutoffs, the ratio of what the
population actually spent to what BG/NBD x Gamma-Gamma (fit before each
cutoff) forecast, and backtests simple rules that predict the next window's
ratio from the finished ones. If no rule predicts the ratio of past windows
well, no level calibration will get the holdout's total right either.

Every forecast for an origin uses only windows with ``cutoff + horizon <=
origin``: the ratio of a window is known only once it has ended.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.models.btyd_features import EXPECTED_VALUE
from kizuna.training.snapshots import build_snapshot

LevelMethod = Literal["bgnbd", "last_window", "mean_of_year", "linear_trend"]
LEVEL_METHODS: tuple[LevelMethod, ...] = ("bgnbd", "last_window", "mean_of_year", "linear_trend")


def rolling_levels(
    transactions: pd.DataFrame,
    cutoffs: list[pd.Timestamp],
    *,
    horizon_days: int,
    lookback_days: int,
    btyd_unit: str = "W",
    items: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Actual and BG/NBD x Gamma-Gamma totals of the active population at each cutoff.

    Parameters
    ----------
    cutoffs
        Snapshot instants; a cutoff whose BTYD models cannot be fit (too little
        history) is left out.
    transactions
        Validated lines, shape (n, k).
    horizon_days
        The window after each cutoff.
    lookback_days
        Activity window of the population.
    btyd_unit
        ``"W"`` or ``"D"``.
    items, customers
        The validated items and customers tables, or None.

    Returns
    -------
    pandas.DataFrame
        One row per usable cutoff, oldest first: ``cutoff``, ``customers``,
        ``actual`` (net revenue in ``[cutoff, cutoff + horizon)``),
        ``forecast`` (sum of ``btyd_expected_value``) and ``ratio`` = actual / forecast.
    """
    rows = []
    for cutoff in sorted(pd.Timestamp(c) for c in cutoffs):
        try:
            snap = build_snapshot(
                transactions,
                cutoff,
                horizon_days=horizon_days,
                lookback_days=lookback_days,
                btyd_unit=btyd_unit,
                customers=customers,
                items=items,
            )
        except KizunaInputError:
            continue  # no population before this cutoff
        if EXPECTED_VALUE not in snap.X.columns or snap.X.empty:
            continue
        forecast = float(snap.X[EXPECTED_VALUE].sum())
        actual = float(snap.value.sum())
        rows.append(
            {
                "cutoff": cutoff,
                "customers": len(snap.X),
                "actual": actual,
                "forecast": forecast,
                "ratio": actual / forecast if forecast > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["cutoff", "customers", "actual", "forecast", "ratio"])


def forecast_ratio(
    levels: pd.DataFrame,
    origin: pd.Timestamp,
    *,
    horizon_days: int,
    method: LevelMethod,
    window_days: int = 365,
) -> float:
    """The actual/forecast ratio a rule expects for the window starting at ``origin``.

    Only rows of ``levels`` whose window ended by ``origin`` (``cutoff +
    horizon <= origin``) and started within ``window_days`` before it are used.

    ``bgnbd``: 1 (trust the BTYD level); ``last_window``: the latest finished
    window's ratio; ``mean_of_year``: the mean ratio of the finished windows;
    ``linear_trend``: a least-squares line through them, read at ``origin``.
    NaN when no window qualifies (or fewer than two for the trend).

    Parameters
    ----------
    levels
        One row per cutoff: ``cutoff`` and the window's actual/forecast ``ratio``.
    origin
        Start of the window forecast.
    horizon_days
        The window's length.
    method
        The rule (``bgnbd``, ``last_window``, ``mean_of_year``, ``linear_trend``).
    window_days
        How far back windows are used.

    Returns
    -------
    float
    """
    if method == "bgnbd":
        return 1.0
    origin = pd.Timestamp(origin)
    horizon = pd.Timedelta(days=horizon_days)
    known = levels[
        (levels["cutoff"] + horizon <= origin)
        & (levels["cutoff"] >= origin - pd.Timedelta(days=window_days))
        & levels["ratio"].notna()
    ].sort_values("cutoff")
    if known.empty:
        return float("nan")
    if method == "last_window":
        return float(known["ratio"].iloc[-1])
    if method == "mean_of_year":
        return float(known["ratio"].mean())
    if method == "linear_trend":
        if len(known) < 2:
            return float("nan")
        days = (known["cutoff"] - origin).dt.days.to_numpy(dtype=float)
        _slope, intercept = np.polyfit(days, known["ratio"].to_numpy(dtype=float), 1)
        return float(intercept)  # the line at day 0, the origin
    raise KizunaInputError(f"unknown level method {method!r}; use one of {LEVEL_METHODS}")


def backtest_levels(
    levels: pd.DataFrame, *, horizon_days: int, window_days: int = 365
) -> pd.DataFrame:
    """Each rule's total error at every cutoff, forecasting its ratio from earlier windows.

    Parameters
    ----------
    levels
        One row per cutoff: ``cutoff`` and the window's actual/forecast ``ratio``.
    horizon_days
        The window's length.
    window_days
        How far back windows are used.

    Returns
    -------
    pandas.DataFrame
        One row per cutoff of ``levels`` with a known ratio and at least one
        finished window before it: ``cutoff``, ``ratio`` (the actual one) and,
        per method, the relative total error ``forecast_ratio / ratio - 1``
        (that of BG/NBD x Gamma-Gamma scaled by the rule's ratio); NaN where a
        rule cannot forecast (the trend needs two finished windows).
    """
    rows = []
    for cutoff, ratio in zip(levels["cutoff"], levels["ratio"], strict=True):
        row = {"cutoff": cutoff, "ratio": ratio}
        for method in LEVEL_METHODS:
            expected = forecast_ratio(
                levels, cutoff, horizon_days=horizon_days, method=method, window_days=window_days
            )
            row[method] = expected / ratio - 1.0
        rows.append(row)
    table = pd.DataFrame(rows, columns=["cutoff", "ratio", *LEVEL_METHODS])
    return table.dropna(subset=["ratio", "last_window"]).reset_index(drop=True)
