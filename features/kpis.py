"""Relationship KPIs over time: monthly activity, cohorts and segment moves (pure).

Every function takes an explicit ``as_of`` (exclusive) and uses only purchase
lines before it; a figure whose window is not complete before ``as_of`` is NaN
(never a partial count that looks like a drop). Returns and cancellations
(``is_return``) are left out of orders and revenue, as in the purchase features.

Definitions (month = calendar month of the order's first line):

- active customers: customers with an order in the month;
- new customers: customers whose first order falls in the month;
- repeat-purchase rate: of the month's new customers, the share who order again
  within ``repeat_days`` of their first order;
- churn rate: of the customers who ordered in the ``churn_days`` before the month's
  first day, the share with no order in the ``churn_days`` from it (the
  non-contractual churn label of :mod:`features.labels`, dated at the month);
- revenue per active customer and average order value: the month's revenue over
  active customers and over orders.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp
from kizuna.features.columnar import require_transaction_columns

ACTIVE = "active_customers"
NEW = "new_customers"
ORDERS = "orders"
REVENUE = "revenue"
REPEAT_RATE = "repeat_rate"
CHURN_RATE = "churn_rate"
REVENUE_PER_ACTIVE = "revenue_per_active"
AOV = "average_order_value"
KPI_COLUMNS = (ACTIVE, NEW, ORDERS, REVENUE, REPEAT_RATE, CHURN_RATE, REVENUE_PER_ACTIVE, AOV)


def orders_before(transactions: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """One row per purchase order before ``as_of``: customer, time of its first line, revenue.

    Parameters
    ----------
    transactions
        Validated lines, shape (n_lines, >= 4): customer, order, timestamp,
        revenue (and optionally ``is_return``).
    as_of
        Exclusive end.

    Returns
    -------
    pandas.DataFrame
        Shape (n_orders, 3): ``customer_id`` (str), ``timestamp``, ``revenue``,
        sorted by time.
    """
    require_transaction_columns(transactions, (s.CUSTOMER_ID, s.ORDER_ID, s.TIMESTAMP, s.REVENUE))
    end = as_of_timestamp(as_of)
    keep = pd.to_datetime(transactions[s.TIMESTAMP]) < end
    if s.IS_RETURN in transactions.columns:
        keep &= ~transactions[s.IS_RETURN].astype(bool)
    lines = transactions.loc[keep, [s.CUSTOMER_ID, s.ORDER_ID, s.TIMESTAMP, s.REVENUE]]
    lines = lines.assign(**{s.CUSTOMER_ID: lines[s.CUSTOMER_ID].astype(str)})
    orders = lines.groupby([s.CUSTOMER_ID, s.ORDER_ID], sort=False, observed=True).agg(
        **{s.TIMESTAMP: (s.TIMESTAMP, "min"), s.REVENUE: (s.REVENUE, "sum")}
    )
    return orders.reset_index()[[s.CUSTOMER_ID, s.TIMESTAMP, s.REVENUE]].sort_values(
        s.TIMESTAMP, kind="stable", ignore_index=True
    )


def monthly_kpis(
    transactions: pd.DataFrame, as_of: Any, *, repeat_days: int = 90, churn_days: int = 90
) -> pd.DataFrame:
    """The KPIs of the module docstring, one row per calendar month before ``as_of``.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, k).
    as_of
        Exclusive cutoff: only orders before it count.
    repeat_days
        Window after a first order in which a repeat order counts.
    churn_days
        Length of the activity and churn windows around each month's first day.

    Returns
    -------
    pandas.DataFrame
        Index: month (``Period[M]``) from the first order's month to the last
        month that ends before ``as_of`` (a partial month would look like a
        drop); columns :data:`KPI_COLUMNS`. Rates whose windows do not fit
        before ``as_of`` are NaN.
    """
    end = as_of_timestamp(as_of)
    orders = orders_before(transactions, end)
    columns = list(KPI_COLUMNS)
    if orders.empty:
        return pd.DataFrame(columns=columns, index=pd.PeriodIndex([], freq="M", name="month"))
    month = orders[s.TIMESTAMP].dt.to_period("M")
    months = pd.period_range(month.min(), end.to_period("M") - 1, name="month")
    by_month = orders.groupby(month)
    out = pd.DataFrame(index=months)
    out[ACTIVE] = by_month[s.CUSTOMER_ID].nunique().reindex(months, fill_value=0)
    out[ORDERS] = by_month.size().reindex(months, fill_value=0)
    out[REVENUE] = by_month[s.REVENUE].sum().reindex(months, fill_value=0.0)
    first = orders.groupby(s.CUSTOMER_ID)[s.TIMESTAMP].min()
    out[NEW] = first.dt.to_period("M").value_counts().reindex(months, fill_value=0)
    out[REPEAT_RATE] = _repeat_rates(orders, first, months, end, repeat_days)
    out[CHURN_RATE] = [_churn_rate(orders, m.start_time, end, churn_days) for m in months]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[REVENUE_PER_ACTIVE] = out[REVENUE] / out[ACTIVE].where(out[ACTIVE] > 0)
        out[AOV] = out[REVENUE] / out[ORDERS].where(out[ORDERS] > 0)
    return out[columns]


def _repeat_rates(
    orders: pd.DataFrame, first: pd.Series, months: pd.PeriodIndex, end: pd.Timestamp, days: int
) -> np.ndarray:
    window = pd.Timedelta(days=days)
    second = orders.merge(first.rename("first"), left_on=s.CUSTOMER_ID, right_index=True)
    second = second[second[s.TIMESTAMP] > second["first"]].groupby(s.CUSTOMER_ID)[s.TIMESTAMP].min()
    frame = pd.DataFrame({"first": first}).join(second.rename("second"))
    frame["repeat"] = (frame["second"] - frame["first"]) <= window
    frame["month"] = frame["first"].dt.to_period("M")
    rates = np.full(len(months), np.nan)
    for i, m in enumerate(months):
        # Only complete windows: every new customer of the month had `days` to come back.
        if m.end_time + window >= end:
            continue
        cohort = frame[frame["month"] == m]
        if len(cohort):
            rates[i] = cohort["repeat"].mean()
    return rates


def _churn_rate(orders: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, days: int) -> float:
    window = pd.Timedelta(days=days)
    if start + window > end:
        return np.nan
    t = orders[s.TIMESTAMP]
    before = set(orders.loc[(t >= start - window) & (t < start), s.CUSTOMER_ID])
    if not before:
        return np.nan
    after = set(orders.loc[(t >= start) & (t < start + window), s.CUSTOMER_ID])
    return len(before - after) / len(before)


def cohort_retention(transactions: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Share of each acquisition cohort ordering in each month since its first order.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, k).
    as_of
        Exclusive cutoff: only orders before it count.

    Returns
    -------
    pandas.DataFrame
        Shape (n_cohorts, n_offsets): index the cohort month (first order),
        columns 0, 1, ... months since it; NaN where that month is at or after
        ``as_of``'s month (not observed completely). Offset 0 is 1.0 by definition.
    """
    table, _ = _cohort_tables(transactions, as_of)
    return table


def cohort_revenue(transactions: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Cumulative revenue per cohort customer, by months since the first order.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, k).
    as_of
        Exclusive cutoff: only orders before it count.

    Returns
    -------
    pandas.DataFrame
        Same shape and NaN rule as :func:`cohort_retention`.
    """
    _, table = _cohort_tables(transactions, as_of)
    return table


def _cohort_tables(transactions: pd.DataFrame, as_of: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    end = as_of_timestamp(as_of)
    orders = orders_before(transactions, end)
    if orders.empty:
        empty = pd.DataFrame(index=pd.PeriodIndex([], freq="M", name="cohort"))
        return empty, empty.copy()
    when = orders[s.TIMESTAMP]
    month = when.dt.to_period("M")
    cohort = month.groupby(orders[s.CUSTOMER_ID]).transform("min")
    # Months since the cohort's month, as whole numbers (one subtraction, not one per order).
    month_no = when.dt.year.astype(np.int64) * 12 + when.dt.month.astype(np.int64)
    offset = month_no - month_no.groupby(orders[s.CUSTOMER_ID]).transform("min")
    last = (end - pd.Timedelta(1, "ns")).to_period("M")
    cohorts = pd.period_range(cohort.min(), last, name="cohort")
    offsets = list(range(len(cohorts)))
    frame = pd.DataFrame(
        {
            "cohort": cohort,
            "offset": offset,
            "cust": orders[s.CUSTOMER_ID],
            "rev": orders[s.REVENUE],
        }
    )
    size = frame.groupby("cohort")["cust"].nunique().reindex(cohorts)
    active = frame.groupby(["cohort", "offset"])["cust"].nunique().unstack(fill_value=0)
    revenue = frame.groupby(["cohort", "offset"])["rev"].sum().unstack(fill_value=0.0)
    active = active.reindex(index=cohorts, columns=offsets, fill_value=0)
    revenue = revenue.reindex(index=cohorts, columns=offsets, fill_value=0.0)
    retention = active.div(size, axis=0)
    cumulative = revenue.cumsum(axis=1).div(size, axis=0)
    # Month c + k is observed completely when it ends before as_of: mask the rest.
    last_full = end.to_period("M") - 1
    ages = np.array([(last_full - c).n for c in cohorts])
    unseen = np.arange(len(offsets))[None, :] > ages[:, None]
    unseen[:, 0] = False  # the first month is the cohort's definition
    keep = size.to_numpy() > 0
    retention = retention.mask(unseen)[keep]
    cumulative = cumulative.mask(unseen)[keep]
    return retention, cumulative


def segment_summary(segments: pd.Series, revenue: pd.Series) -> pd.DataFrame:
    """Customers and revenue per segment.

    Parameters
    ----------
    segments
        Segment per customer (index: customer id).
    revenue
        Revenue per customer (same index; missing = 0).

    Returns
    -------
    pandas.DataFrame
        One row per segment, largest first: ``customers``, ``share``, ``revenue``,
        ``revenue_share``.
    """
    rev = revenue.reindex(segments.index).fillna(0.0)
    table = pd.DataFrame({"segment": segments.astype(str), "revenue": rev.to_numpy()})
    out = table.groupby("segment").agg(customers=("revenue", "size"), revenue=("revenue", "sum"))
    out["share"] = out["customers"] / out["customers"].sum()
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total else np.nan
    return out.sort_values("customers", ascending=False, kind="stable")[
        ["customers", "share", "revenue", "revenue_share"]
    ]


def segment_transitions(
    before: pd.Series, now: pd.Series, *, missing: str = "(new)"
) -> pd.DataFrame:
    """How customers moved between segments: counts, rows = before, columns = now.

    Customers present only ``now`` appear in the ``missing`` row (they had no
    purchase yet at the earlier date).

    Parameters
    ----------
    before, now
        Segment per customer (index: customer id), at the earlier date and now.
    missing
        Label of the row for customers without a segment before.

    Returns
    -------
    pandas.DataFrame
        Shape (n_segments_before, n_segments_now): customer counts.
    """
    joined = pd.DataFrame({"now": now.astype(str)}).join(before.astype(str).rename("before"))
    joined["before"] = joined["before"].fillna(missing)
    return pd.crosstab(joined["before"], joined["now"]).rename_axis(index="before", columns="now")
