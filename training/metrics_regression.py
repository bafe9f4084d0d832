"""Metrics for the lifetime-value regressor.

Every function takes 1-D arrays of equal length and returns a float (or a
DataFrame for the decile table). Bad input (different lengths, missing
values) raises :class:`features.errors.KizunaInputError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from kizuna.features.errors import KizunaInputError
from kizuna.training.metrics_tabular import finite_pair, top_order


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error.

    Parameters
    ----------
    y_true
        Actual values, shape (n,).
    y_pred
        Predicted values, shape (n,).

    Returns
    -------
    float
    """
    t, p = finite_pair(y_true, y_pred, pred_name="y_pred")
    return float(mean_absolute_error(t, p))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error.

    Parameters
    ----------
    y_true
        Actual values, shape (n,).
    y_pred
        Predicted values, shape (n,).

    Returns
    -------
    float
    """
    t, p = finite_pair(y_true, y_pred, pred_name="y_pred")
    return float(root_mean_squared_error(t, p))


def spearman(y_true: Any, y_pred: Any) -> float:
    """Spearman rank correlation; NaN when either side is constant (no ranking to compare).

    Parameters
    ----------
    y_true
        Actual values, shape (n,).
    y_pred
        Predicted values, shape (n,).

    Returns
    -------
    float
    """
    t, p = finite_pair(y_true, y_pred, pred_name="y_pred")
    if len(t) < 2 or t.min() == t.max() or p.min() == p.max():
        return float("nan")
    return float(spearmanr(t, p).statistic)


def _gini(actual: np.ndarray, order_by: np.ndarray) -> float:
    """Gini of ``actual`` ordered by ``order_by`` descending; tied groups share their mean.

    Averaging within ties gives the expected Gini over all orders of the tied
    rows, so a constant prediction scores exactly 0 whatever the row order.
    """
    order = np.argsort(-order_by, kind="stable")
    a = actual[order]
    keys = order_by[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sums = np.add.reduceat(a, starts)
    sizes = np.diff(np.r_[starts, len(a)])
    a = np.repeat(sums / sizes, sizes)
    n = len(a)
    return float((np.cumsum(a).sum() / a.sum() - (n + 1) / 2) / n)


def normalised_gini(y_true: Any, y_pred: Any) -> float:
    """Gini of actual value ordered by prediction over Gini of actual ordered by itself.

    1 = the prediction ranks customers exactly as their actual value does,
    0 = no better than random, negative = worse. NaN when the actual total is 0
    or every actual value is equal (nothing to rank).

    Parameters
    ----------
    y_true
        Actual values, shape (n,).
    y_pred
        Predicted values, shape (n,).

    Returns
    -------
    float
    """
    t, p = finite_pair(y_true, y_pred, pred_name="y_pred")
    if t.sum() == 0:
        return float("nan")
    best = _gini(t, t)
    if best == 0:
        return float("nan")
    return _gini(t, p) / best


def decile_calibration(y_true: Any, y_pred: Any, *, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted against mean actual per prediction decile.

    Rows are sorted by prediction, highest first (stable on ties), and split
    into ``n_bins`` groups of equal size (sizes differ by at most one; empty
    groups, when there are fewer rows than bins, are left out).

    Parameters
    ----------
    y_true
        Actual values, shape (n,).
    y_pred
        Predicted values, shape (n,).
    n_bins
        Number of groups.

    Returns
    -------
    pandas.DataFrame
        Columns ``decile`` (1 = highest predictions), ``mean_predicted``,
        ``mean_actual``, ``count``; one row per non-empty group.
    """
    t, p = finite_pair(y_true, y_pred, pred_name="y_pred")
    if n_bins < 1:
        raise KizunaInputError("n_bins must be at least 1", column="n_bins")
    order = top_order(p)
    rows = [
        (k + 1, float(p[idx].mean()), float(t[idx].mean()), len(idx))
        for k, idx in enumerate(np.array_split(order, n_bins))
        if len(idx)
    ]
    return pd.DataFrame(rows, columns=["decile", "mean_predicted", "mean_actual", "count"])


def total_revenue_error(y_true: Any, y_pred: Any) -> float:
    """Relative error of the total: (sum predicted - sum actual) / sum actual.

    Parameters
    ----------
    y_true
        Actual values, shape (n,).
    y_pred
        Predicted values, shape (n,).

    Returns
    -------
    float
    """
    t, p = finite_pair(y_true, y_pred, pred_name="y_pred")
    total = t.sum()
    if total == 0:
        raise KizunaInputError(
            "actual revenue totals 0, so a relative error is undefined", column="y_true"
        )
    return float((p.sum() - total) / total)


def regression_report(y_true: Any, y_pred: Any) -> dict[str, float]:
    """All scalar regression metrics in one dict (for logging), keyed by metric name.

    Parameters
    ----------
    y_true
        Actual values, shape (n,).
    y_pred
        Predicted values, shape (n,).

    Returns
    -------
    dict of str -> float
    """
    return {
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "spearman": spearman(y_true, y_pred),
        "normalised_gini": normalised_gini(y_true, y_pred),
        "total_revenue_error": total_revenue_error(y_true, y_pred),
    }
