"""Buy-till-you-die outputs as features: P(alive), expected purchases and value.

The churn and LTV models take these next to the behaviour vector, and the
LTV baseline is the last column on its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.pipeline import TIME_SCALERS, btyd_columns
from kizuna.models.bgnbd import BetaGeoModel
from kizuna.models.gamma_gamma import GammaGammaModel

P_ALIVE = "p_alive"
EXPECTED_PURCHASES = "expected_purchases"
EXPECTED_SPEND = "expected_spend"
EXPECTED_VALUE = "btyd_expected_value"
BTYD_OUTPUTS = (P_ALIVE, EXPECTED_PURCHASES, EXPECTED_SPEND, EXPECTED_VALUE)


def btyd_features(
    summary: pd.DataFrame,
    bgnbd: BetaGeoModel,
    horizon_periods: float,
    *,
    gamma_gamma: GammaGammaModel | None = None,
    frequency_col: str = s.REPEAT_PERIODS,
    recency_col: str = s.RECENCY,
    t_col: str = s.T,
    monetary_col: str = s.MONETARY_VALUE,
) -> pd.DataFrame:
    """P(alive), expected repeat purchases over the horizon, and their value.

    Parameters
    ----------
    summary
        BTYD summary, shape (n_customers, 4+), in the unit ``bgnbd`` was fit in.
    bgnbd
        A fitted BG/NBD model.
    horizon_periods
        Horizon in the summary's time unit (e.g. 90 days = 12.86 weeks).
    gamma_gamma
        A fitted Gamma-Gamma model; without it the value columns are omitted.
    frequency_col, recency_col, t_col, monetary_col
        The summary's columns (the canonical ones by default).

    Returns
    -------
    pandas.DataFrame
        Same index as ``summary``: ``p_alive``, ``expected_purchases`` and,
        with ``gamma_gamma``, ``expected_spend`` (per purchase) and
        ``btyd_expected_value`` (= purchases x spend, undiscounted).
    """
    x = summary[frequency_col].to_numpy(dtype=float)
    t_x = summary[recency_col].to_numpy(dtype=float)
    big_t = summary[t_col].to_numpy(dtype=float)
    out = pd.DataFrame(index=summary.index)
    out[P_ALIVE] = bgnbd.probability_alive(x, t_x, big_t)
    out[EXPECTED_PURCHASES] = bgnbd.conditional_expected_purchases(horizon_periods, x, t_x, big_t)
    if gamma_gamma is not None:
        m = summary[monetary_col].to_numpy(dtype=float)
        # Gamma-Gamma is defined on positive spend; a zero or negative mean
        # (one-time buyers, refunds) falls back to the population mean.
        spend = gamma_gamma.conditional_expected_average_profit(
            np.where(m > 0, x, 0), np.where(m > 0, m, 0)
        )
        out[EXPECTED_SPEND] = spend
        out[EXPECTED_VALUE] = out[EXPECTED_PURCHASES] * spend
    return out


# Columns of the feature frame that are not model inputs: text duplicates of scores.
NON_FEATURES = (s.RFM_SCORE,)


def btyd_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The feature frame's ``btyd_*`` columns under the BTYD models' names, shape (n, 4).

    Parameters
    ----------
    frame
        The feature frame, shape (n, k), with the ``btyd_*`` columns.

    Returns
    -------
    pandas.DataFrame
        Shape (n, 4): ``repeat_periods``, ``recency``, ``T``, ``monetary_value``.
    """
    return frame[btyd_columns()].set_axis(
        [s.REPEAT_PERIODS, s.RECENCY, s.T, s.MONETARY_VALUE], axis=1
    )


def with_btyd_outputs(
    frame: pd.DataFrame,
    bgnbd: BetaGeoModel | None,
    gamma_gamma: GammaGammaModel | None,
    *,
    horizon_days: int,
    btyd_unit: str = "W",
) -> pd.DataFrame:
    """Model inputs from a feature frame: BTYD outputs joined on, non-features dropped.

    Training (each snapshot) and serving (the live state) both call this, so
    the churn and LTV models see the same columns in both places.

    Parameters
    ----------
    frame
        ``features.pipeline.customer_features`` output, shape (n, p).
    bgnbd, gamma_gamma
        The fitted BTYD models; without ``bgnbd`` no BTYD output is added, without
        ``gamma_gamma`` no value column.
    horizon_days
        Prediction horizon, in days.
    btyd_unit
        The summary's time unit, ``"W"`` or ``"D"``.

    Returns
    -------
    pandas.DataFrame
        Shape (n, p'): ``frame`` without :data:`NON_FEATURES`, plus
        :data:`BTYD_OUTPUTS` when ``bgnbd`` is given.
    """
    if bgnbd is not None:
        horizon = horizon_days / TIME_SCALERS[btyd_unit]
        frame = frame.join(
            btyd_features(btyd_summary(frame), bgnbd, horizon, gamma_gamma=gamma_gamma)
        )
    return frame.drop(columns=[c for c in NON_FEATURES if c in frame.columns])
