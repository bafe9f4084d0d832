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


def _subplots(ncols: int = 1, *, figsize: tuple[float, float]) -> tuple[Figure, Any]:
    """A figure on its own Agg canvas, with ``ncols`` axes side by side."""
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

    fig, ax = _subplots(figsize=(5, 5))
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

    fig, ax = _subplots(figsize=(5, 5))
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
    fig, (gain_ax, lift_ax) = _subplots(2, figsize=(10, 4.5))
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
        Model name -> its decile table (``training.metrics_tabular.decile_calibration``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _subplots(figsize=(6, 4.5))
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
    fig, ax = _subplots(figsize=(6, 4.5))
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

    fig, ax = _subplots(figsize=(6, 4.5))
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

    fig, ax = _subplots(figsize=(5, 5))
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, score)
        ap = average_precision_score(y_true, score)
        ax.plot(recall, precision, label=f"{name} (AP {ap:.3f})")
    ax.axhline(float(np.mean(y_true)), ls=":", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


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
    fig, ax = _subplots(figsize=(6, 0.3 * len(shown) + 1.2))
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
    fig, ax = _subplots(figsize=(7, 0.35 * len(order) + 1.5))
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
    fig, (res_ax, fit_ax) = _subplots(2, figsize=(10, 4.5))
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
    fig, ax = _subplots(figsize=(6, 4))
    for column in scores:
        values = np.sort(table[column].dropna().to_numpy(dtype=float))[::-1]
        ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=column)
    ax.set(xlabel="combination (best first)", ylabel="validation score", title="Search")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
