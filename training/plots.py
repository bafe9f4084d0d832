"""Evaluation plots, as matplotlib figures that the pipeline logs to MLflow as PNG.

Figures are drawn on an Agg canvas chosen here, figure by figure: nothing
switches the process-wide backend, and no figure enters pyplot's registry
(so none needs closing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def to_png(figures: Mapping[str, Figure | bytes]) -> dict[str, bytes]:
    """Each figure drawn as PNG (what MLflow's ``log_figure`` writes); bytes pass through.

    Drawing costs 0.04-0.08 s a figure (a SHAP summary 0.25 s): a training
    thread draws its own figures when its models are done, so that logging,
    at the end, only writes files.

    Parameters
    ----------
    figures
        File name -> a figure, or PNG bytes already drawn.

    Returns
    -------
    dict of str -> bytes
    """
    import io

    out = {}
    for name, figure in figures.items():
        if isinstance(figure, bytes):
            out[name] = figure
            continue
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        out[name] = buffer.getvalue()
    return out


def subplots(ncols: int = 1, *, figsize: tuple[float, float]) -> tuple[Figure, Any]:
    """A figure on its own Agg canvas, with ``ncols`` axes side by side.

    Parameters
    ----------
    ncols
        How many axes, side by side.
    figsize
        The figure's (width, height) in inches.

    Returns
    -------
    tuple of (Figure, Axes or array of Axes)
    """
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


def roc_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves of several scorers on one holdout. Arrays have shape (n,).

    Parameters
    ----------
    y_true
        0/1 outcomes, shape (n,).
    scores
        Scorer name -> scores, shape (n,).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = subplots(figsize=(5, 5))
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y_true, score)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_true, score):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def calibration_figure(
    y_true: np.ndarray, probas: Mapping[str, np.ndarray], bins: int = 10
) -> Figure:
    """Reliability diagram: mean predicted against observed rate, by quantile bin.

    Parameters
    ----------
    y_true
        0/1 outcomes, shape (n,).
    probas
        Model name -> predicted probabilities, shape (n,).
    bins
        Number of quantile bins.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.calibration import calibration_curve

    fig, ax = subplots(figsize=(5, 5))
    for name, proba in probas.items():
        observed, predicted = calibration_curve(y_true, proba, n_bins=bins, strategy="quantile")
        ax.plot(predicted, observed, marker="o", label=name)
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set(xlabel="predicted probability", ylabel="observed rate", title="Calibration")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def gains_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Cumulative gains (capture rate by share targeted) and lift by decile.

    Parameters
    ----------
    y_true
        0/1 outcomes, shape (n,).
    scores
        Scorer name -> scores, shape (n,).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (gain_ax, lift_ax) = subplots(2, figsize=(10, 4.5))
    y = np.asarray(y_true, dtype=float)
    share = np.arange(1, len(y) + 1) / len(y)
    for name, score in scores.items():
        order = np.argsort(-np.asarray(score), kind="stable")
        captured = np.cumsum(y[order]) / max(y.sum(), 1.0)
        gain_ax.plot(share, captured, label=name)
        deciles = np.array_split(y[order], 10)
        lift = [d.mean() / max(y.mean(), 1e-12) for d in deciles]
        lift_ax.plot(range(1, 11), lift, marker="o", label=name)
    gain_ax.plot([0, 1], [0, 1], ls=":", color="grey")
    gain_ax.set(
        xlabel="share of customers targeted",
        ylabel="share of churners captured",
        title="Cumulative gains",
    )
    lift_ax.axhline(1.0, ls=":", color="grey")
    lift_ax.set(xlabel="decile (1 = highest score)", ylabel="lift", title="Lift by decile")
    gain_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def decile_calibration_figure(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """LTV: mean predicted and mean actual value by predicted decile.

    Each table has columns ``decile``, ``mean_predicted``, ``mean_actual``.

    Parameters
    ----------
    tables
        Model name -> its decile table (``training.metrics_regression.decile_calibration``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = subplots(figsize=(6, 4.5))
    for name, table in tables.items():
        line = ax.plot(
            table["decile"],
            table["mean_predicted"],
            marker="o",
            ls="--",
            label=f"{name}: predicted",
        )
        ax.plot(
            table["decile"],
            table["mean_actual"],
            marker="s",
            color=line[0].get_color(),
            label=f"{name}: actual",
        )
    ax.set(
        xlabel="predicted decile (1 = highest)",
        ylabel="mean horizon revenue",
        title="LTV decile calibration",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def recall_at_k_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Recall@k against k for each recommender: ``{name: (ks, recalls)}``.

    Parameters
    ----------
    curves
        Recommender name -> ``(ks, recalls)``, each shape (n_k,).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = subplots(figsize=(6, 4.5))
    for name, (ks, recalls) in curves.items():
        ax.plot(ks, recalls, marker=".", label=name)
    ax.set(xlabel="k", ylabel="recall@k", title="Recall@k")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def qini_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Figure:
    """Qini curves (incremental responders by number targeted) per scorer.

    ``curves`` maps a name to ``(outcome, treated, score)``, each shape (n,).

    Parameters
    ----------
    curves
        Scorer name -> ``(outcome, treated, score)``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from kizuna.training.metrics_uplift import qini_curve

    fig, ax = subplots(figsize=(6, 4.5))
    last = None
    for name, (y, t, score) in curves.items():
        k, gain = qini_curve(y, t, score)
        ax.plot(k, gain, label=name)
        last = (k, gain)
    if last is not None:
        k, gain = last
        ax.plot([0, k[-1]], [0, gain[-1]], ls=":", color="grey", label="random")
    ax.set(xlabel="customers targeted", ylabel="incremental responders", title="Qini")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def precision_recall_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Precision against recall for each scorer, with the base rate. Arrays shape (n,).

    Parameters
    ----------
    y_true
        0/1 outcomes, shape (n,).
    scores
        Scorer name -> scores, shape (n,).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = subplots(figsize=(5, 5))
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, score)
        ap = average_precision_score(y_true, score)
        ax.plot(recall, precision, label=f"{name} (AP {ap:.3f})")
    ax.axhline(float(np.mean(y_true)), ls=":", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig
