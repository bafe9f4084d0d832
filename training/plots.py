"""Evaluation plots, as matplotlib figures that the pipeline logs to MLflow as PNG."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no screen on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def roc_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves of several scorers on one holdout. Arrays have shape (n,)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5, 5))
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
    """Reliability diagram: mean predicted against observed rate, by quantile bin."""
    from sklearn.calibration import calibration_curve

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, proba in probas.items():
        observed, predicted = calibration_curve(y_true, proba, n_bins=bins, strategy="quantile")
        ax.plot(predicted, observed, marker="o", label=name)
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set(xlabel="predicted probability", ylabel="observed rate", title="Calibration")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def gains_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Cumulative gains (capture rate by share targeted) and lift by decile."""
    fig, (gain_ax, lift_ax) = plt.subplots(1, 2, figsize=(10, 4.5))
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
    """
    fig, ax = plt.subplots(figsize=(6, 4.5))
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
        xlabel="predicted decile (1 = lowest)",
        ylabel="mean horizon revenue",
        title="LTV decile calibration",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def recall_at_k_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Recall@k against k for each recommender: ``{name: (ks, recalls)}``."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, (ks, recalls) in curves.items():
        ax.plot(ks, recalls, marker=".", label=name)
    ax.set(xlabel="k", ylabel="recall@k", title="Recall@k")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def qini_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Figure:
    """Qini curves (incremental responders by number targeted) per scorer.

    ``curves`` maps a name to ``(outcome, treated, score)``, each shape (n,).
    """
    from kizuna.training.metrics_uplift import qini_curve

    fig, ax = plt.subplots(figsize=(6, 4.5))
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


def search_figure(table: pd.DataFrame, scores: list[str]) -> Figure:
    """Validation score of every search combination, sorted, one line per score column.

    ``table`` has one row per combination (see ``training.search_log.search_table``);
    a combination has NaN in the score columns of other modes.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for column in scores:
        values = np.sort(table[column].dropna().to_numpy(dtype=float))[::-1]
        ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=column)
    ax.set(xlabel="combination (best first)", ylabel="validation score", title="Search")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
