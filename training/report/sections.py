"""The report's sections: numbers from the data and models, turned into tables and SVG plots.

Each ``*_section`` function takes frames (no I/O) and returns a :class:`Section`;
:mod:`training.report.sources` reads what they need, :mod:`training.report.html`
lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kizuna.features import kpis
from kizuna.features import schema as s
from kizuna.models.next_best_offer import value_at_risk
from kizuna.models.offers import MIN_RETENTION
from kizuna.training.report import figures as fg


@dataclass
class Section:
    """One part of the report.

    Attributes
    ----------
    key
        Anchor and test id (``section-<key>``).
    title, intro
        Heading and one paragraph saying what it shows.
    plots
        ``(plot id, inline <svg> or <img> markup)``; every plot is a
        ``<figure class="plot" data-plot="<id>">`` in the page.
    tables
        ``(caption, frame)``, rendered as HTML tables.
    notes
        Short lines (what is missing and why, definitions).
    """

    key: str
    title: str
    intro: str = ""
    plots: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Tables above the plots (model health: the numbers first).
    tables_first: bool = False


def kpi_section(
    transactions: pd.DataFrame, as_of: pd.Timestamp, *, repeat_days: int, churn_days: int
) -> Section:
    monthly = kpis.monthly_kpis(transactions, as_of, repeat_days=repeat_days, churn_days=churn_days)
    table = monthly.tail(13).copy()
    table.index = table.index.astype(str)
    return Section(
        "kpis",
        "Relationship KPIs, month by month",
        f"Active and new customers, the share of first-time buyers who buy again within "
        f"{repeat_days} days, churn (no order in the {churn_days} days from the month's start "
        "among customers who bought in the "
        f"{churn_days} days before it), revenue per active customer and average order value. "
        "Rates whose window is not complete yet are left blank.",
        plots=[("kpis", fg.to_svg(fg.kpi_figure(monthly)))],
        tables=[("The last 13 months", _rounded(table))],
    )


def cohort_section(
    transactions: pd.DataFrame, as_of: pd.Timestamp, *, max_cohorts: int = 24
) -> Section:
    retention = kpis.cohort_retention(transactions, as_of).iloc[-max_cohorts:]
    revenue = kpis.cohort_revenue(transactions, as_of).iloc[-max_cohorts:]
    retention = retention.dropna(axis=1, how="all")
    revenue = revenue.dropna(axis=1, how="all")
    return Section(
        "cohorts",
        "Retention and value by acquisition cohort",
        "Share of each month's new customers who order again in each later month, and the "
        "revenue a cohort's customer has brought in so far.",
        plots=[
            (
                "cohort-retention",
                fg.to_svg(fg.heatmap_figure(retention, title="Retention by cohort", fmt="{:.0%}")),
            ),
            ("cohort-revenue", fg.to_svg(fg.cumulative_revenue_figure(revenue))),
        ],
    )


def segment_section(
    now: pd.DataFrame,
    before: pd.DataFrame | None,
    revenue: pd.Series,
    *,
    since: pd.Timestamp | None,
) -> Section:
    summary = kpis.segment_summary(now[s.SEGMENT], revenue)
    section = Section(
        "segments",
        "RFM segments",
        "Customers and revenue (all purchases before the report date) per RFM segment, and how "
        "customers moved between segments since an earlier date.",
        plots=[("segments", fg.to_svg(fg.segment_figure(summary)))],
        tables=[("Segments now", _rounded(summary))],
    )
    if before is not None and since is not None:
        moves = kpis.segment_transitions(before[s.SEGMENT], now[s.SEGMENT])
        section.tables.append((f"Moves since {since.date()} (rows: then, columns: now)", moves))
    return section


def value_section(
    scores: pd.DataFrame | None, reasons: dict[str, list[str]], *, ltv_basis: str, top: int = 20
) -> Section:
    """LTV by segment and the customers most worth keeping (value if retained × churn).

    Parameters
    ----------
    scores
        Churn, LTV and segment per customer, or None.
    reasons
        Customer id -> churn reasons, for the top customers.
    ltv_basis
        What ``predicted_value`` means (the offer catalogue's ``ltv_basis``).
    top
        How many customers the table lists.

    Returns
    -------
    Section
    """
    section = Section(
        "value",
        "Predicted value and who to keep",
        "Predicted revenue over the horizon by segment (the champion LTV model), and the "
        "customers with the most value at risk: their value if retained × churn probability, "
        "the value the next-best-offer engine weighs.",
    )
    if scores is None or "predicted_value" not in scores.columns:
        section.notes.append("No LTV champion is loaded: train one with `kizuna train`.")
        return section
    groups = {
        str(seg): g["predicted_value"].dropna().to_numpy()
        for seg, g in scores.groupby("segment", observed=True)
        if g["predicted_value"].notna().any()
    }
    figure = fg.box_figure(groups, title="Predicted value by segment", ylabel="predicted revenue")
    section.plots.append(("ltv-by-segment", fg.to_svg(figure)))
    if "churn_probability" in scores.columns:
        keep = worth_keeping(scores, top=top, ltv_basis=ltv_basis)
        keep["reasons"] = ["; ".join(reasons.get(c, [])) for c in keep["customer_id"]]
        # Rows keyed by customer: the page's first column is the index.
        section.tables.append(("Most worth keeping", _rounded(keep).set_index("customer_id")))
        section.notes.append(_BASIS_NOTES[ltv_basis])
    return section


# Why a marketer sees these numbers: the basis decides what "value if retained" is.
_BASIS_NOTES = {
    "if_retained": "Value if retained = predicted value (the offer catalogue's "
    "ltv_basis: if_retained).",
    "expected": "Value if retained = predicted value / (1 − churn probability), 1 − churn "
    f"floored at {MIN_RETENTION:g}: the predicted value already counts the churn risk (the offer "
    "catalogue's ltv_basis: expected, or no catalogue: kizuna's LTV model predicts that).",
}


def worth_keeping(scores: pd.DataFrame, *, top: int, ltv_basis: str) -> pd.DataFrame:
    """The ``top`` customers by value at risk = value if retained × churn probability
    (:func:`models.next_best_offer.value_at_risk`, as the offer engine values them).

    Parameters
    ----------
    scores
        ``predicted_value`` and ``churn_probability`` per customer.
    top
        How many customers.
    ltv_basis
        ``"if_retained"`` or ``"expected"``: what ``predicted_value`` means.

    Returns
    -------
    pandas.DataFrame
        Shape (<= top, k).
    """
    at_risk = value_at_risk(
        scores["predicted_value"].to_numpy(dtype=float),
        scores["churn_probability"].to_numpy(dtype=float),
        ltv_basis,
    )
    frame = scores.assign(value_at_risk=at_risk).dropna(subset=["value_at_risk"])
    frame = frame.sort_values("value_at_risk", ascending=False, kind="stable").head(top)
    cols = ["customer_id", "segment", "predicted_value", "churn_probability", "value_at_risk"]
    return frame[cols].reset_index(drop=True)


def health_section(health: list[dict[str, Any]]) -> Section:
    """Each champion's holdout metrics against its baselines, and its evaluation plots.

    Parameters
    ----------
    health
        One entry per champion, from ``training.report.sources.model_health``.

    Returns
    -------
    Section
    """
    section = Section(
        "models",
        "Model health",
        "Each champion's metrics on the time-based holdout of the run that trained it, "
        "against the baselines measured on the same holdout.",
        tables_first=True,
    )
    if not health:
        section.notes.append("No champion in the registry: run `kizuna train`.")
    for entry in health:
        section.tables.append(
            (
                f"{entry['kind']} (version {entry['version']}, primary metric {entry['primary']})",
                entry["metrics"],
            )
        )
        for plot_id, markup in entry.get("plots", []):
            section.plots.append((plot_id, markup))
    return section


def next_order_section(
    evaluation: pd.DataFrame | None, calibration: pd.DataFrame | None
) -> Section:
    section = Section(
        "next-order",
        "Next-order predictions on the holdout",
        "P(order within 30/60/90 days) from BG/NBD against what customers did, and the error "
        "in days of the expected next-order date for customers who came back.",
    )
    if evaluation is None:
        section.notes.append("Not measured: the champion run logged no next-order evaluation.")
        return section
    section.tables.append(("Holdout figures", _rounded(evaluation)))
    if calibration is not None and len(calibration):
        section.plots.append(
            (
                "next-order-calibration",
                fg.to_svg(fg.calibration_table_figure(calibration, title="P(order in 90 days)")),
            )
        )
    return section


def table_section(
    key: str, title: str, intro: str, table: pd.DataFrame | None, *, missing: str
) -> Section:
    """A section that is one table (campaigns, attribution, contact fatigue).

    Parameters
    ----------
    key
        The section's anchor.
    title
        Its title.
    intro
        Its first paragraph.
    table
        The table, or None.
    missing
        What to say without a table.

    Returns
    -------
    Section
    """
    section = Section(key, title, intro)
    if table is None or table.empty:
        section.notes.append(missing)
    else:
        section.tables.append((title, _rounded(table)))
    return section


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats as text: blanks for NaN, counts whole, small values to 4 significant digits."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            whole = bool(out[col].dropna().map(float.is_integer).all())
            out[col] = [number_text(v, whole) for v in out[col]]
    return out


def number_text(v: float, whole: bool) -> str:
    """A table cell's number: no decimals when ``whole`` (counts), else 4 significant
    digits below 1 and 2 decimals above; '' when missing.

    Parameters
    ----------
    v
        The number, or NaN.
    whole
        Whether the column counts things.

    Returns
    -------
    str
    """
    if pd.isna(v):
        return ""
    if whole:
        return f"{v:,.0f}"
    return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.2f}"
