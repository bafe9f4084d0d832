"""The intervals of a campaign evaluation: retention (two proportions), revenue and profit (Welch).

See :mod:`training.campaign_eval` for the statistics and when they hold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats


def retention_uplift(yt: np.ndarray, yc: np.ndarray, confidence: float) -> dict[str, Any]:
    """``p_T - p_C`` of 0/1 outcomes (shapes (n_T,), (n_C,)), its normal interval and p-value.

    Parameters
    ----------
    yt, yc
        0/1 outcomes of the treated and the control group.
    confidence
        The interval's confidence, e.g. 0.95.

    Returns
    -------
    dict
        The uplift, its interval bounds and p-value.
    """
    nt, nc = yt.size, yc.size
    pt = yt.mean() if nt else np.nan
    pc = yc.mean() if nc else np.nan
    diff = pt - pc
    se = np.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc) if nt and nc else np.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    p_value = 2 * stats.norm.sf(abs(diff) / se) if se > 0 else (1.0 if diff == 0 else 0.0)
    return {
        "n_treated": nt, "n_control": nc, "retention_treated": pt, "retention_control": pc,
        "retention_uplift": diff, "retention_uplift_low": diff - z * se,
        "retention_uplift_high": diff + z * se,
        "retention_uplift_p_value": float(p_value) if nt and nc else np.nan,
    }  # fmt: skip


def welch_interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """``mean(a) - mean(b)`` and its Welch t interval; NaN bounds when a group has < 2 rows.

    Parameters
    ----------
    a, b
        The two groups' values.
    confidence
        The interval's confidence, e.g. 0.95.

    Returns
    -------
    difference, low, high : float
    """
    na, nb = a.size, b.size
    if na == 0 or nb == 0:
        return np.nan, np.nan, np.nan
    diff = float(a.mean() - b.mean())
    if na < 2 or nb < 2:
        return diff, np.nan, np.nan
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    se = np.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    return diff, diff - half, diff + half


def revenue_uplift(rt: np.ndarray, rc: np.ndarray, confidence: float) -> dict[str, Any]:
    """Revenue per customer, treated minus control (Welch), and times n_T: the campaign's.

    Parameters
    ----------
    rt, rc
        Revenue per treated and per control customer.
    confidence
        The interval's confidence, e.g. 0.95.

    Returns
    -------
    dict
        Per customer and total, with intervals.
    """
    diff, low, high = welch_interval(rt, rc, confidence)
    nt = rt.size
    return {
        "revenue_treated": rt.mean() if nt else np.nan,
        "revenue_control": rc.mean() if rc.size else np.nan,
        "revenue_uplift": diff, "revenue_uplift_low": low, "revenue_uplift_high": high,
        "incremental_revenue": diff * nt, "incremental_revenue_low": low * nt,
        "incremental_revenue_high": high * nt,
    }  # fmt: skip


def profit_uplift(pt: np.ndarray, pc: np.ndarray, confidence: float) -> dict[str, Any]:
    """Incremental profit: per treated customer (Welch) and in total (times n_T).

    Parameters
    ----------
    pt, pc
        Profit per treated and per control customer.
    confidence
        The interval's confidence, e.g. 0.95.

    Returns
    -------
    dict
        Per treated customer and total, with intervals.
    """
    per, low, high = welch_interval(pt, pc, confidence)
    nt = pt.size
    return {
        "incremental_profit": per * nt, "incremental_profit_low": low * nt,
        "incremental_profit_high": high * nt, "profit_per_treated": per,
    }  # fmt: skip
