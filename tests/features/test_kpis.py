"""Relationship KPIs on a tiny shop worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import kpis
from kizuna.features import schema as s


def _lines(rows: list[tuple[str, str, str, float, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: [r[0] for r in rows],
            s.ORDER_ID: [r[1] for r in rows],
            s.TIMESTAMP: pd.to_datetime([r[2] for r in rows], format="ISO8601"),
            s.REVENUE: [r[3] for r in rows],
            s.IS_RETURN: [r[4] for r in rows],
        }
    )


@pytest.fixture
def shop() -> pd.DataFrame:
    # A: Jan 5 (100), Jan 20 (50, two lines), Mar 10 (30); B: Jan 15 (200), a return in Feb;
    # C: Feb 10 (80), Mar 5 (20). A line on Apr 2 is after as_of and must not count.
    return _lines(
        [
            ("A", "o1", "2024-01-05", 100.0, False),
            ("A", "o2", "2024-01-20", 30.0, False),
            ("A", "o2", "2024-01-20T00:05:00", 20.0, False),
            ("B", "o3", "2024-01-15", 200.0, False),
            ("B", "r1", "2024-02-01", -40.0, True),
            ("C", "o4", "2024-02-10", 80.0, False),
            ("A", "o5", "2024-03-10", 30.0, False),
            ("C", "o6", "2024-03-05", 20.0, False),
            ("B", "o7", "2024-04-02", 999.0, False),
        ]
    )


def test_orders_merge_lines_and_leave_out_returns_and_the_future(shop: pd.DataFrame) -> None:
    orders = kpis.orders_before(shop, "2024-04-01")
    assert len(orders) == 6
    assert orders[s.REVENUE].sum() == pytest.approx(480.0)


def test_monthly_kpis_by_hand(shop: pd.DataFrame) -> None:
    out = kpis.monthly_kpis(shop, "2024-04-01", repeat_days=30, churn_days=30)
    assert [str(m) for m in out.index] == ["2024-01", "2024-02", "2024-03"]
    assert out[kpis.ACTIVE].tolist() == [2, 1, 2]
    assert out[kpis.NEW].tolist() == [2, 1, 0]
    assert out[kpis.ORDERS].tolist() == [3, 1, 2]
    assert out[kpis.REVENUE].tolist() == pytest.approx([350.0, 80.0, 50.0])
    # Jan: A came back within 30 days, B did not; Feb: C did; Mar: window not complete.
    assert out[kpis.REPEAT_RATE].iloc[:2].tolist() == pytest.approx([0.5, 1.0])
    assert np.isnan(out[kpis.REPEAT_RATE].iloc[2])
    # Jan: nobody active before; Feb: A and B active in January, neither orders in
    # [Feb 1, Mar 2); Mar: C active in February and orders again on Mar 5.
    assert np.isnan(out[kpis.CHURN_RATE].iloc[0])
    assert out[kpis.CHURN_RATE].iloc[1:].tolist() == pytest.approx([1.0, 0.0])
    assert out[kpis.REVENUE_PER_ACTIVE].tolist() == pytest.approx([175.0, 80.0, 25.0])
    assert out[kpis.AOV].tolist() == pytest.approx([350 / 3, 80.0, 25.0])


def test_cohort_retention_and_revenue_by_hand(shop: pd.DataFrame) -> None:
    retention = kpis.cohort_retention(shop, "2024-04-01")
    revenue = kpis.cohort_revenue(shop, "2024-04-01")
    assert [str(c) for c in retention.index] == ["2024-01", "2024-02"]
    np.testing.assert_allclose(retention.loc["2024-01"].to_numpy(), [1.0, 0.0, 0.5])
    np.testing.assert_allclose(retention.loc["2024-02"].to_numpy(), [1.0, 1.0, np.nan])
    np.testing.assert_allclose(revenue.loc["2024-01"].to_numpy(), [175.0, 175.0, 190.0])
    np.testing.assert_allclose(revenue.loc["2024-02"].to_numpy(), [80.0, 100.0, np.nan])


def test_cohort_offsets_count_months_across_a_year_end() -> None:
    # D: first order Nov 2023, again Jan 2024 (offset 2) and Dec 2024 (offset 13).
    lines = _lines(
        [
            ("D", "o1", "2023-11-30T23:00:00", 10.0, False),
            ("D", "o2", "2024-01-01", 5.0, False),
            ("D", "o3", "2024-12-31", 1.0, False),
        ]
    )
    revenue = kpis.cohort_revenue(lines, "2025-01-01")
    retention = kpis.cohort_retention(lines, "2025-01-01")
    assert [str(c) for c in revenue.index][0] == "2023-11"
    row = revenue.loc["2023-11"].to_numpy()
    assert row[[0, 1, 2, 12, 13]].tolist() == [10.0, 10.0, 15.0, 15.0, 16.0]
    active = retention.loc["2023-11"].to_numpy()
    assert np.flatnonzero(active > 0).tolist() == [0, 2, 13]


def test_a_partial_month_is_not_observed(shop: pd.DataFrame) -> None:
    # As of Mar 15 March is partial: the January cohort is seen up to February only.
    retention = kpis.cohort_retention(shop, "2024-03-15")
    np.testing.assert_allclose(retention.loc["2024-01"].to_numpy(), [1.0, 0.0, np.nan])


def test_segment_summary_and_transitions() -> None:
    now = pd.Series({"A": "Champions", "B": "Lost", "C": "Champions", "D": "New"})
    before = pd.Series({"A": "New", "B": "Champions", "C": "Champions"})
    revenue = pd.Series({"A": 10.0, "B": 5.0, "C": 25.0})
    summary = kpis.segment_summary(now, revenue)
    assert summary.loc["Champions", "customers"] == 2
    assert summary.loc["Champions", "revenue"] == pytest.approx(35.0)
    assert summary.loc["New", "revenue"] == 0.0
    assert summary["share"].sum() == pytest.approx(1.0)
    moves = kpis.segment_transitions(before, now)
    assert moves.loc["New", "Champions"] == 1
    assert moves.loc["Champions", "Lost"] == 1
    assert moves.loc["Champions", "Champions"] == 1
    assert moves.loc["(new)", "New"] == 1
    assert moves.to_numpy().sum() == 4


def test_a_partial_last_month_is_left_out_of_the_monthly_kpis(shop: pd.DataFrame) -> None:
    out = kpis.monthly_kpis(shop, "2024-03-15", repeat_days=30, churn_days=30)
    assert [str(m) for m in out.index] == ["2024-01", "2024-02"]


def test_events_at_or_after_as_of_change_nothing(shop: pd.DataFrame) -> None:
    future = _lines(
        [
            ("Z", "f1", "2024-04-01T00:00:00", 1e6, False),  # a new customer exactly at as_of
            ("A", "f2", "2024-05-01T00:00:00", 5.0, False),
            ("C", "f3", "2024-04-03T00:00:00", -20.0, True),
        ]
    )
    more = pd.concat([shop, future], ignore_index=True)
    for fn in (kpis.monthly_kpis, kpis.cohort_retention, kpis.cohort_revenue):
        pd.testing.assert_frame_equal(fn(shop, "2024-04-01"), fn(more, "2024-04-01"))
