"""Metrics for the churn classifier and the lifetime-value regressor.

Every function takes 1-D arrays of equal length and returns a float (or a
DataFrame for the decile table). Bad input (different lengths, missing
values, one-class labels where two are needed) raises
:class:`features.errors.KizunaInputError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.metrics import log_loss as _sk_log_loss

from kizuna.features.errors import KizunaInputError

# Probabilities are clipped this far from 0 and 1 for log loss, so one
# confident mistake costs a large but finite amount.
_LOG_LOSS_EPS = 1e-15


def _pair(y_true: Any, y_pred: Any, *, pred_name: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_pred, dtype=float).ravel()
    if len(t) != len(p):
        raise KizunaInputError(
            f"y_true has {len(t)} values but {pred_name} has {len(p)}", column=pred_name
        )
    if len(t) == 0:
        raise KizunaInputError("no rows to score", column=pred_name)
    for name, arr in (("y_true", t), (pred_name, p)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise KizunaInputError(
                f"{int(bad.sum())} missing or infinite values", column=name, values=arr[bad]
            )
    return t, p


def _binary(y_true: Any, y_score: Any, *, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    t, s = _pair(y_true, y_score, pred_name="y_score")
    bad = (t != 0) & (t != 1)
    if bad.any():
        raise KizunaInputError("labels must be 0 or 1", column="y_true", values=t[bad])
    if need_both and t.min() == t.max():
        raise KizunaInputError(
            f"undefined when every label is {int(t[0])}: the holdout needs both classes",
            column="y_true",
        )
    return t.astype(int), s


def _probabilities(y_prob: np.ndarray) -> None:
    bad = (y_prob < 0) | (y_prob > 1)
    if bad.any():
        raise KizunaInputError(
            "probabilities must lie in [0, 1]", column="y_prob", values=y_prob[bad]
        )


# --- classification ------------------------------------------------------------


def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve: chance a churner outranks a stayer (ties count half).

    Parameters
    ----------
    y_true
        0/1 outcomes (1 = churned), shape (n,).
    y_score
        Scores, higher = more likely 1, shape (n,).

    Returns
    -------
    float
    """
    t, s = _binary(y_true, y_score)
    return float(roc_auc_score(t, s))


def pr_auc(y_true: Any, y_score: Any) -> float:
    """Area under the precision-recall curve, as average precision (no interpolation).

    Parameters
    ----------
    y_true
        0/1 outcomes (1 = churned), shape (n,).
    y_score
        Scores, higher = more likely 1, shape (n,).

    Returns
    -------
    float
    """
    t, s = _binary(y_true, y_score)
    return float(average_precision_score(t, s))


def brier(y_true: Any, y_prob: Any) -> float:
    """Mean squared difference between 0/1 outcome and predicted probability.

    Parameters
    ----------
    y_true
        0/1 outcomes (1 = churned), shape (n,).
    y_prob
        Predicted probabilities of 1, shape (n,).

    Returns
    -------
    float
    """
    t, p = _binary(y_true, y_prob, need_both=False)
    _probabilities(p)
    return float(brier_score_loss(t, p, labels=[0, 1]))


def log_loss(y_true: Any, y_prob: Any) -> float:
    """Mean negative log-likelihood of the outcomes; probabilities clipped to [1e-15, 1 - 1e-15].

    Parameters
    ----------
    y_true
        0/1 outcomes (1 = churned), shape (n,).
    y_prob
        Predicted probabilities of 1, shape (n,).

    Returns
    -------
    float
    """
    t, p = _binary(y_true, y_prob, need_both=False)
    _probabilities(p)
    p = np.clip(p, _LOG_LOSS_EPS, 1 - _LOG_LOSS_EPS)
    return float(_sk_log_loss(t, p, labels=[0, 1]))


def _top_k(n: int, fraction: float) -> int:
    if not 0 < fraction <= 1:
        raise KizunaInputError(f"fraction must be in (0, 1], got {fraction}", column="fraction")
    # The tolerance keeps 0.1 * 30 (= 3.0000000000000004 in floating point) at 3.
    return max(1, int(np.ceil(n * fraction - 1e-9)))


def _top_order(y_score: np.ndarray) -> np.ndarray:
    # Stable sort on -score: tied rows keep their input order, so results are reproducible.
    return np.argsort(-y_score, kind="stable")


def lift_top_decile(y_true: Any, y_score: Any, *, fraction: float = 0.1) -> float:
    """Churn rate among the top-scored ``fraction`` divided by the overall churn rate.

    The top group has ``ceil(n * fraction)`` rows; ties at the cut are broken by
    input order (stable sort on -score).

    Parameters
    ----------
    y_true
        0/1 outcomes (1 = churned), shape (n,).
    y_score
        Scores, higher = more likely 1, shape (n,).
    fraction
        Share of rows in the top group.

    Returns
    -------
    float
    """
    t, s = _binary(y_true, y_score)
    top = _top_order(s)[: _top_k(len(t), fraction)]
    return float(t[top].mean() / t.mean())


def capture_rate_top_decile(y_true: Any, y_score: Any, *, fraction: float = 0.1) -> float:
    """Share of all churners found in the top-scored ``fraction`` (same cut as the lift).

    Parameters
    ----------
    y_true
        0/1 outcomes (1 = churned), shape (n,).
    y_score
        Scores, higher = more likely 1, shape (n,).
    fraction
        Share of rows in the top group.

    Returns
    -------
    float
    """
    t, s = _binary(y_true, y_score)
    top = _top_order(s)[: _top_k(len(t), fraction)]
    return float(t[top].sum() / t.sum())


def classification_report(y_true: Any, y_prob: Any) -> dict[str, float]:
    """All classification metrics in one dict (for logging), keyed by metric name.

    Parameters
    ----------
    y_true
        0/1 outcomes (1 = churned), shape (n,).
    y_prob
        Predicted probabilities of 1, shape (n,).

    Returns
    -------
    dict of str -> float
    """
    return {
        "roc_auc": roc_auc(y_true, y_prob),
        "pr_auc": pr_auc(y_true, y_prob),
        "brier": brier(y_true, y_prob),
        "log_loss": log_loss(y_true, y_prob),
        "lift_top_decile": lift_top_decile(y_true, y_prob),
        "capture_rate_top_decile": capture_rate_top_decile(y_true, y_prob),
    }


# --- regression ----------------------------------------------------------------


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
    t, p = _pair(y_true, y_pred, pred_name="y_pred")
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
    t, p = _pair(y_true, y_pred, pred_name="y_pred")
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
    t, p = _pair(y_true, y_pred, pred_name="y_pred")
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
    t, p = _pair(y_true, y_pred, pred_name="y_pred")
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
    t, p = _pair(y_true, y_pred, pred_name="y_pred")
    if n_bins < 1:
        raise KizunaInputError("n_bins must be at least 1", column="n_bins")
    order = _top_order(p)
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
    t, p = _pair(y_true, y_pred, pred_name="y_pred")
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
