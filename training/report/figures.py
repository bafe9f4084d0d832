"""The report's plots: matplotlib figures rendered to inline SVG text (no files, no network)."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from kizuna.features import kpis

_BLUE, _ORANGE = "#2f6690", "#d9822b"


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (the XML prolog dropped, fonts as paths).

    Parameters
    ----------
    fig
        The figure.

    Returns
    -------
    str
    """
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _figure(width: float, height: float) -> Figure:
    # Figure() directly, not pyplot: no global state, no backend selection.
    return Figure(figsize=(width, height), dpi=100)


def kpi_figure(monthly: pd.DataFrame) -> Figure:
    """Six small panels, one per KPI, month by month. ``monthly``: :func:`kpis.monthly_kpis`.

    Parameters
    ----------
    monthly
        One row per month, the KPI columns.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(11, 6)
    panels = [
        (kpis.ACTIVE, "active customers", "{:,.0f}"),
        (kpis.NEW, "new customers", "{:,.0f}"),
        (kpis.REPEAT_RATE, "repeat-purchase rate", "{:.0%}"),
        (kpis.CHURN_RATE, "churn rate", "{:.0%}"),
        (kpis.REVENUE_PER_ACTIVE, "revenue per active customer", "{:,.0f}"),
        (kpis.AOV, "average order value", "{:,.0f}"),
    ]
    x = monthly.index.to_timestamp() if len(monthly) else []
    axes = fig.subplots(2, 3)
    for ax, (col, title, _) in zip(axes.ravel(), panels, strict=True):
        values = monthly[col].to_numpy(dtype=float) if len(monthly) else []
        ax.plot(x, values, marker="o", ms=3, color=_BLUE)
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if col in (kpis.REPEAT_RATE, kpis.CHURN_RATE):
            ax.set_ylim(0, 1)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def heatmap_figure(table: pd.DataFrame, *, title: str, fmt: str, cmap: str = "Blues") -> Figure:
    """Cohort (rows) × months since first order (columns) heatmap; NaN cells left blank.

    Parameters
    ----------
    table
        Shape (n_cohorts, n_offsets).
    title
        The figure's title.
    fmt
        Format of the cell labels, e.g. ``"{:.0%}"``.
    cmap
        Matplotlib colour map.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_rows, n_cols = table.shape
    fig = _figure(min(2 + 0.45 * n_cols, 13), min(1.5 + 0.3 * n_rows, 12))
    ax = fig.subplots()
    values = table.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=cmap)
    ax.set_yticks(range(n_rows), [str(c) for c in table.index], fontsize=7)
    ax.set_xticks(range(n_cols), [str(c) for c in table.columns], fontsize=7)
    ax.set_xlabel("months since first order")
    ax.set_ylabel("cohort (first order)")
    ax.set_title(title)
    if n_rows * n_cols <= 400:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=5.5)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def cumulative_revenue_figure(table: pd.DataFrame, max_lines: int = 12) -> Figure:
    """Cumulative revenue per customer by months since first order, one line per cohort.

    Parameters
    ----------
    table
        Shape (n_cohorts, n_offsets), from ``kpis.cohort_revenue``.
    max_lines
        Most cohorts drawn (the latest).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(8, 4.5)
    ax = fig.subplots()
    rows = table.iloc[-max_lines:]
    for cohort, row in rows.iterrows():
        ax.plot(row.index, row.to_numpy(dtype=float), marker=".", label=str(cohort))
    ax.set(
        xlabel="months since first order",
        ylabel="revenue per customer",
        title="Cumulative revenue per customer by cohort",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def segment_figure(summary: pd.DataFrame) -> Figure:
    """Customers and revenue share per segment, side by side.

    Parameters
    ----------
    summary
        One row per segment, with customer and revenue shares.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(10, 4)
    left, right = fig.subplots(1, 2, sharey=True)
    names = summary.index.astype(str)
    left.barh(names, summary["customers"], color=_BLUE)
    left.set_title("customers")
    right.barh(names, summary["revenue_share"].fillna(0.0), color=_ORANGE)
    right.set_title("share of revenue")
    for ax in (left, right):
        ax.tick_params(labelsize=8)
        ax.invert_yaxis() if ax is left else None
    fig.tight_layout()
    return fig


def box_figure(groups: Mapping[str, np.ndarray], *, title: str, ylabel: str) -> Figure:
    """One box per group (e.g. predicted LTV by segment); outliers not drawn.

    Parameters
    ----------
    groups
        Group name -> values, shape (n_group,).
    title
        The figure's title.
    ylabel
        The value axis label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(10, 4)
    ax = fig.subplots()
    names = list(groups)
    ax.boxplot([np.asarray(groups[n], float) for n in names], showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
    ax.set(title=title, ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def calibration_table_figure(table: pd.DataFrame, *, title: str) -> Figure:
    """Predicted against observed rate by bin. ``table``: ``predicted``, ``observed`` columns.

    Parameters
    ----------
    table
        One row per bin.
    title
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(4.5, 4.5)
    ax = fig.subplots()
    ax.plot(table["predicted"], table["observed"], marker="o", color=_BLUE)
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set(
        xlabel="predicted probability",
        ylabel="observed rate",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1),
    )
    fig.tight_layout()
    return fig
