"""Plots of a fitted model itself: feature importance, SHAP summary, residuals, search scores.

Drawn like :mod:`training.plots` (each figure on its own Agg canvas, see
:func:`training.plots.subplots`); the pipeline logs them to MLflow as PNG.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from kizuna.training.plots import subplots


def importance_figure(importance: pd.Series, *, title: str, top: int = 20) -> Figure:
    """Horizontal bars of the ``top`` largest values of ``importance`` (index: feature names).

    Parameters
    ----------
    importance
        Importance per feature, shape (p,).
    title
        The figure's title.
    top
        How many features to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    shown = importance.sort_values(ascending=True).tail(top)
    fig, ax = subplots(figsize=(6, 0.3 * len(shown) + 1.2))
    ax.barh(np.arange(len(shown)), shown.to_numpy())
    ax.set_yticks(np.arange(len(shown)), labels=[str(i) for i in shown.index], fontsize=8)
    ax.set(title=title, xlabel=str(importance.name or "importance"))
    fig.tight_layout()
    return fig


def shap_summary_figure(contrib: pd.DataFrame, values: pd.DataFrame, *, top: int = 15) -> Figure:
    """SHAP summary (beeswarm-like): each dot a customer, x its feature's contribution.

    Parameters
    ----------
    contrib
        SHAP values, shape (n, n_features) (LightGBM ``pred_contrib`` without the bias).
    values
        The feature values, same shape and columns, for the colour (low blue, high red).
    top
        How many features to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    order = contrib.abs().mean().sort_values(ascending=False).index[:top][::-1]
    fig, ax = subplots(figsize=(7, 0.35 * len(order) + 1.5))
    rng = np.random.default_rng(0)  # vertical jitter only, fixed so reruns draw the same plot
    for row, col in enumerate(order):
        x = contrib[col].to_numpy(dtype=float)
        v = pd.to_numeric(values[col], errors="coerce").to_numpy(dtype=float)
        finite = np.isfinite(v)
        colour = np.full(len(v), 0.5)
        if finite.any() and np.ptp(v[finite]) > 0:
            lo, hi = np.nanpercentile(v[finite], [5, 95])
            colour[finite] = np.clip((v[finite] - lo) / max(hi - lo, 1e-12), 0, 1)
        y = row + rng.uniform(-0.3, 0.3, len(x))
        ax.scatter(x, y, c=colour, cmap="coolwarm", s=6, alpha=0.6, vmin=0, vmax=1)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_yticks(np.arange(len(order)), labels=[str(c) for c in order], fontsize=8)
    ax.set(xlabel="SHAP value (contribution to the raw score)", title="SHAP summary")
    fig.tight_layout()
    return fig


def residual_figure(actual: np.ndarray, predicted: np.ndarray) -> Figure:
    """LTV residuals: residual against prediction, and predicted against actual (log1p axes).

    Parameters
    ----------
    actual
        Actual values, shape (n,).
    predicted
        Predicted values, shape (n,).

    Returns
    -------
    matplotlib.figure.Figure
    """
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    residual = actual - predicted
    fig, (res_ax, fit_ax) = subplots(2, figsize=(10, 4.5))
    res_ax.scatter(predicted, residual, s=5, alpha=0.4)
    res_ax.axhline(0.0, color="grey", ls=":")
    res_ax.set(xlabel="predicted value", ylabel="actual - predicted", title="Residuals")
    fit_ax.scatter(np.log1p(np.clip(actual, 0, None)), np.log1p(np.clip(predicted, 0, None)), s=5)
    top = float(np.log1p(max(np.nanmax(np.clip(actual, 0, None)), 1.0)))
    fit_ax.plot([0, top], [0, top], ls=":", color="grey")
    fit_ax.set(xlabel="log1p(actual)", ylabel="log1p(predicted)", title="Predicted against actual")
    fig.tight_layout()
    return fig


def model_figures(kind: str, model: Any, X: pd.DataFrame, *, max_rows: int = 2000) -> dict:
    """Gain importance and SHAP summary of a boosted model on ``X`` (its test rows).

    ``model`` exposes ``booster_`` (a LightGBM Booster) and ``preprocessor_``
    (with ``transform_matrix`` and ``feature_names_``); other models give no
    figures. SHAP values are LightGBM's own ``pred_contrib`` on at most
    ``max_rows`` rows (the first ones, for a repeatable plot).

    Parameters
    ----------
    kind
        The model kind (``churn``, ``ltv``), prefixing the file names.
    model
        The fitted model.
    X
        Its test features, shape (n, p).
    max_rows
        Most rows the SHAP summary reads.

    Returns
    -------
    dict of str -> matplotlib.figure.Figure
        File name -> figure; empty for a model without a booster.
    """
    booster = getattr(model, "booster_", None)
    pre = getattr(model, "preprocessor_", None)
    if booster is None or pre is None or X.empty:
        return {}
    names = list(pre.feature_names_)
    gain = pd.Series(
        booster.feature_importance(importance_type="gain"), index=names, name="total gain"
    )
    rows = X.head(max_rows)
    matrix = pre.transform_matrix(rows)
    contrib = booster.predict(matrix, pred_contrib=True)[:, : len(names)]
    contrib_frame = pd.DataFrame(contrib, columns=names, index=rows.index)
    values = pd.DataFrame(matrix, columns=names, index=rows.index)
    return {
        f"{kind}_importance_gain.png": importance_figure(gain, title=f"{kind}: gain importance"),
        f"{kind}_shap_summary.png": shap_summary_figure(contrib_frame, values),
    }


def search_figure(table: pd.DataFrame, scores: list[str]) -> Figure:
    """Validation score of every search combination, sorted, one line per score column.

    ``table`` has one row per combination (see ``training.search_log.search_table``);
    a combination has NaN in the score columns of other modes.

    Parameters
    ----------
    table
        One row per search combination.
    scores
        The score columns to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = subplots(figsize=(6, 4))
    for column in scores:
        values = np.sort(table[column].dropna().to_numpy(dtype=float))[::-1]
        ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=column)
    ax.set(xlabel="combination (best first)", ylabel="validation score", title="Search")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
