"""Metrics for the churn classifier, and the input checks the tabular metrics share.

Every function takes 1-D arrays of equal length and returns a float. Bad input
(different lengths, missing values, one-class labels where two are needed) raises
:class:`features.errors.KizunaInputError`. The lifetime-value regressor's metrics
live in :mod:`training.metrics_regression`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    roc_auc_score,
)
from sklearn.metrics import log_loss as _sk_log_loss

from kizuna.features.errors import KizunaInputError

# Probabilities are clipped this far from 0 and 1 for log loss, so one
# confident mistake costs a large but finite amount.
_LOG_LOSS_EPS = 1e-15


def finite_pair(y_true: Any, y_pred: Any, *, pred_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as flat floats, checked to be equally long, non-empty and finite.

    Parameters
    ----------
    y_true
        The true values.
    y_pred
        The predictions or scores.
    pred_name
        What ``y_pred`` is called in the error message (``y_score``, ``y_pred``).

    Returns
    -------
    tuple of (ndarray, ndarray)
        ``y_true`` and ``y_pred`` as 1-D float arrays.
    """
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
    t, s = finite_pair(y_true, y_score, pred_name="y_score")
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


def top_order(y_score: np.ndarray) -> np.ndarray:
    """Row positions from the highest score to the lowest, ties in input order.

    Parameters
    ----------
    y_score
        1-D scores.

    Returns
    -------
    ndarray of int
    """
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
    top = top_order(s)[: _top_k(len(t), fraction)]
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
    top = top_order(s)[: _top_k(len(t), fraction)]
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
