"""Uplift metrics: Qini and uplift curves, their areas, and uplift in the top k.

All take a randomised sample: outcome ``y`` (0/1 or a number such as revenue),
``treatment`` (0/1) and a ``score`` (the predicted uplift; higher = target
first), each of shape (n,). Customers are sorted by score, descending; tied
scores form one block, so the curves have a point only where the score
changes and do not depend on the input order.

After targeting the top ``k`` customers, with ``N_T, N_C`` treated and control
among them and ``Y_T, Y_C`` their summed outcomes:

- Qini curve (Radcliffe, 2007): ``Q(k) = Y_T - Y_C * N_T / N_C`` (incremental
  outcomes among the treated targeted; the control term is 0 while
  ``N_C = 0``).
- Uplift curve: ``U(k) = (Y_T / N_T - Y_C / N_C) * k`` (incremental outcomes
  had all ``k`` been treated; 0 while either group is empty).

Areas are taken with the trapezoid rule over the fraction targeted (0..1) of
the curve divided by ``n``, so they are in outcome per customer and comparable
across sample sizes. The random targeting baseline is the straight line to the
curve's end point (area ``end / 2``). Normalised scores divide the area above
that line by the area above it of the perfect ordering, whose score is ``y`` for
treated and ``-y`` for control customers (treated responders first, control
responders last): 1 is perfect, 0 random, negative worse than random.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kizuna.features.errors import KizunaInputError


def _inputs(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).ravel()
    t = np.asarray(treatment).ravel()
    sc = np.asarray(score, dtype=float).ravel()
    if not (y.size == t.size == sc.size):
        raise KizunaInputError(
            f"y, treatment and score must have the same length ({y.size}, {t.size}, {sc.size})",
            column="score",
        )
    if y.size == 0:
        raise KizunaInputError("no rows to evaluate", column="y")
    if not np.isin(t, [0, 1]).all():
        raise KizunaInputError(
            "treatment must be 0/1", column="treatment", values=np.unique(t[~np.isin(t, [0, 1])])
        )
    for name, arr in (("y", y), ("score", sc)):
        if not np.isfinite(arr).all():
            raise KizunaInputError(
                "must be finite numbers", column=name, values=arr[~np.isfinite(arr)]
            )
    t = t.astype(float)
    if t.sum() == 0 or t.sum() == t.size:
        raise KizunaInputError("needs both treated and control rows", column="treatment")
    return y, t, sc


def _cumulative(y: np.ndarray, t: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, ...]:
    """Counts and sums after each tie block, with a leading 0: shapes (b + 1,)."""
    order = np.argsort(-score, kind="stable")
    y, t, score = y[order], t[order], score[order]
    block_end = np.flatnonzero(np.r_[score[1:] != score[:-1], True])

    def cum(x: np.ndarray) -> np.ndarray:
        return np.r_[0.0, np.cumsum(x)[block_end]]

    return cum(np.ones_like(t)), cum(t), cum(1 - t), cum(y * t), cum(y * (1 - t))


def qini_curve(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: ``(n_targeted, qini)``, each shape (b + 1,), starting at (0, 0).

    ``qini`` is ``Y_T - Y_C * N_T / N_C`` among the top ``n_targeted`` (see module).

    Parameters
    ----------
    y
        Outcomes, shape (n,).
    treatment
        0/1: whether each customer was treated, shape (n,).
    score
        Uplift scores, higher = target first, shape (n,).

    Returns
    -------
    n_targeted, qini : numpy.ndarray
        Each shape (b + 1,).
    """
    y, t, sc = _inputs(y, treatment, score)
    k, nt, nc, yt, yc = _cumulative(y, t, sc)
    control_term = np.divide(yc * nt, nc, out=np.zeros_like(yc), where=nc > 0)
    return k, yt - control_term


def uplift_curve(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: ``(n_targeted, uplift)``, each (b + 1,): ``(Y_T/N_T - Y_C/N_C) * k``.

    Parameters
    ----------
    y
        Outcomes, shape (n,).
    treatment
        0/1: whether each customer was treated, shape (n,).
    score
        Uplift scores, higher = target first, shape (n,).

    Returns
    -------
    n_targeted, uplift : numpy.ndarray
        Each shape (b + 1,).
    """
    y, t, sc = _inputs(y, treatment, score)
    k, nt, nc, yt, yc = _cumulative(y, t, sc)
    both = (nt > 0) & (nc > 0)
    rate_t = np.divide(yt, nt, out=np.zeros_like(yt), where=both)
    rate_c = np.divide(yc, nc, out=np.zeros_like(yc), where=both)
    return k, (rate_t - rate_c) * k


def _area(k: np.ndarray, values: np.ndarray) -> float:
    n = k[-1]
    x, v = k / n, values / n
    return float(np.sum((x[1:] - x[:-1]) * (v[1:] + v[:-1]) / 2.0))


def _normalised_area(curve: Any, y: np.ndarray, t: np.ndarray, score: np.ndarray) -> float:
    k, v = curve(y, t, score)
    random = v[-1] / k[-1] / 2.0
    kp, vp = curve(y, t, np.where(t == 1, y, -y))
    best = _area(kp, vp) - random
    if best <= 0:
        return float("nan")  # no ordering beats random: nothing to normalise by
    return (_area(k, v) - random) / best


def qini_coefficient(y: Any, treatment: Any, score: Any, *, normalize: bool = True) -> float:
    """Area between the Qini curve and the random line.

    Parameters
    ----------
    y
        Outcomes, shape (n,).
    treatment
        0/1: whether each customer was treated, shape (n,).
    score
        Uplift scores, higher = target first, shape (n,).
    normalize
        Divide by the same area of the perfect ordering (1 = perfect, 0 =
        random). Unnormalised, it is in outcome per customer.

    Returns
    -------
    float
    """
    y, t, sc = _inputs(y, treatment, score)
    if normalize:
        return _normalised_area(qini_curve, y, t, sc)
    k, q = qini_curve(y, t, sc)
    return _area(k, q) - q[-1] / k[-1] / 2.0


def auuc(y: Any, treatment: Any, score: Any, *, normalize: bool = False) -> float:
    """Area under the uplift curve, in outcome per customer.

    Parameters
    ----------
    y
        Outcomes, shape (n,).
    treatment
        0/1: whether each customer was treated, shape (n,).
    score
        Uplift scores, higher = target first, shape (n,).
    normalize
        Report ``(area - random) / (perfect - random)`` instead of the raw area.

    Returns
    -------
    float
    """
    y, t, sc = _inputs(y, treatment, score)
    if normalize:
        return _normalised_area(uplift_curve, y, t, sc)
    k, u = uplift_curve(y, t, sc)
    return _area(k, u)


def uplift_at_k(y: Any, treatment: Any, score: Any, k: float = 0.3) -> float:
    """Mean outcome of treated minus control among the top ``k`` (a share) by score.

    The top is ``ceil(k * n)`` customers (ties broken by input order); NaN when
    it holds no treated or no control customer.

    Parameters
    ----------
    y
        Outcomes, shape (n,).
    treatment
        0/1: whether each customer was treated, shape (n,).
    score
        Uplift scores, higher = target first, shape (n,).
    k
        Share of customers targeted.

    Returns
    -------
    float
    """
    y, t, sc = _inputs(y, treatment, score)
    if not 0 < k <= 1:
        raise KizunaInputError("k is a share of customers in (0, 1]", column="k", values=[k])
    top = np.argsort(-sc, kind="stable")[: int(np.ceil(k * y.size))]
    yt, tt = y[top], t[top]
    if tt.sum() == 0 or tt.sum() == tt.size:
        return float("nan")
    return float(yt[tt == 1].mean() - yt[tt == 0].mean())
