"""rfm_summary on hand-worked frames: periods, the exclusive as_of, returns, refused input.

CDNOW against lifetimes and pymc-marketing: ``test_rfm_cdnow.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.rfm import rfm_summary
from tests.features.rfm_checks import COLUMNS, assert_same_summary

AS_OF = pd.Timestamp("2024-01-11")  # exclusive: the observation period is 2024-01-10


def _tx(rows: list[tuple[str, str, float, bool]]) -> pd.DataFrame:
    customer, ts, revenue, is_return = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: pd.array(customer, dtype="string"),
            s.TIMESTAMP: pd.to_datetime(list(ts)),
            s.REVENUE: np.array(revenue, dtype=float),
            s.IS_RETURN: np.array(is_return, dtype=bool),
        }
    )


@pytest.fixture
def tx() -> pd.DataFrame:
    # 2024-01-01 is a Monday. Days are counted from the first purchase.
    return _tx(
        [
            # a: Jan 1 (10 + 5, one period), Jan 4 (20), Jan 8 (30).
            ("a", "2024-01-01 10:00", 10.0, False),
            ("a", "2024-01-01 15:00", 5.0, False),
            ("a", "2024-01-04 09:00", 20.0, False),
            ("a", "2024-01-08 12:00", 30.0, False),
            ("a", "2024-01-12 12:00", 50.0, False),  # after as_of
            # b: one purchase Jan 5; the return on Jan 7 is not a purchase.
            ("b", "2024-01-05 11:00", 12.0, False),
            ("b", "2024-01-07 11:00", -12.0, True),
            # c: Jan 2 (8), Jan 9 (4 at 09:00 + 6 at 18:00).
            ("c", "2024-01-02 08:00", 8.0, False),
            ("c", "2024-01-09 09:00", 4.0, False),
            ("c", "2024-01-09 18:00", 6.0, False),
            # d: only exactly at as_of, so not a customer yet.
            ("d", "2024-01-11 00:00", 100.0, False),
        ]
    )


def _frame(rows: dict[str, list[float]], columns: list[str] = COLUMNS) -> pd.DataFrame:
    index = pd.Index(pd.array(list(rows), dtype="string"), name=s.CUSTOMER_ID)
    return pd.DataFrame(list(rows.values()), index=index, columns=columns, dtype=float)


def test_daily_summary_by_hand(tx):
    # Observation period: Jan 10 (the last day before as_of).
    # a: periods Jan 1, 4, 8 -> frequency 2, recency 8-1 = 7, T 10-1 = 9,
    #    monetary (20 + 30) / 2 = 25 (the Jan 1 period, 15, is not a repeat).
    # b: Jan 5 only -> 0, 0, T 10-5 = 5, monetary 0.
    # c: Jan 2, Jan 9 (4 + 6 = 10) -> 1, 7, T 10-2 = 8, monetary 10.
    expected = _frame({"a": [2, 7, 9, 25], "b": [0, 0, 5, 0], "c": [1, 7, 8, 10]})
    pd.testing.assert_frame_equal(rfm_summary(tx, AS_OF), expected, check_exact=True)


def test_time_scaler_divides_recency_and_t_only(tx):
    # The daily values above, recency and T divided by 7.
    expected = _frame(
        {"a": [2, 7 / 7, 9 / 7, 25], "b": [0, 0, 5 / 7, 0], "c": [1, 7 / 7, 8 / 7, 10]}
    )
    pd.testing.assert_frame_equal(rfm_summary(tx, AS_OF, time_scaler=7), expected)


def test_weekly_periods_run_monday_to_sunday(tx):
    # Week 0 = Jan 1..7, week 1 = Jan 8..14; the observation period is week 1.
    # a: week 0 (10 + 5 + 20), week 1 (30) -> frequency 1, recency 1, T 1, monetary 30.
    # b: week 0 -> 0, 0, 1, 0.  c: week 0 (8), week 1 (10) -> 1, 1, 1, 10.
    expected = _frame({"a": [1, 1, 1, 30], "b": [0, 0, 1, 0], "c": [1, 1, 1, 10]})
    pd.testing.assert_frame_equal(rfm_summary(tx, AS_OF, time_unit="W"), expected)


def test_as_of_inside_a_day_cuts_that_day(tx):
    # as_of Jan 9 12:00: c keeps 4 (09:00) but not 6 (18:00); Jan 9 is the
    # observation period. a: Jan 1, 4, 8 -> 2, 7, T 9-1 = 8, 25.
    # b: 0, 0, T 9-5 = 4, 0.  c: Jan 2, Jan 9 (4) -> 1, 7, 7, 4.
    expected = _frame({"a": [2, 7, 8, 25], "b": [0, 0, 4, 0], "c": [1, 7, 7, 4]})
    got = rfm_summary(tx, pd.Timestamp("2024-01-09 12:00"))
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_as_of_is_exclusive_at_the_first_instant(tx):
    # A purchase exactly at as_of is not seen; one tick later as_of sees it.
    assert "d" not in rfm_summary(tx, AS_OF).index
    later = rfm_summary(tx, AS_OF + pd.Timedelta(1, "us"))
    # d: one purchase on Jan 11, which is then the observation period: T 0.
    assert later.loc["d"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_rows_at_or_after_as_of_change_nothing(tx):
    clean = rfm_summary(tx, AS_OF)
    noise = _tx(
        [
            ("a", "2024-01-11 00:00", 999.0, False),
            ("b", "2024-01-20 10:00", 1.0, False),
            ("e", "2025-06-01 10:00", 7.0, False),
        ]
    )
    # Bad values after as_of are never looked at either.
    noise.loc[1, s.REVENUE] = np.nan
    noise.loc[2, s.CUSTOMER_ID] = pd.NA
    polluted = pd.concat([noise, tx, noise], ignore_index=True)
    pd.testing.assert_frame_equal(rfm_summary(polluted, AS_OF), clean, check_exact=True)


def test_returns_are_left_out_unless_return_col_is_none(tx):
    # With the return counted as a purchase, b has Jan 5 (12) and Jan 7 (-12):
    # frequency 1, recency 2, T 5, monetary -12.
    got = rfm_summary(tx, AS_OF, return_col=None)
    assert got.loc["b"].tolist() == [1.0, 2.0, 5.0, -12.0]
    assert rfm_summary(tx, AS_OF).loc["b"].tolist() == [0.0, 0.0, 5.0, 0.0]


def test_without_monetary_column(tx):
    got = rfm_summary(tx.drop(columns=s.REVENUE), AS_OF, monetary_col=None)
    assert list(got.columns) == [s.REPEAT_PERIODS, s.RECENCY, s.T]
    pd.testing.assert_frame_equal(got, rfm_summary(tx, AS_OF)[got.columns])


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_resolution_does_not_matter(tx, unit):
    other = tx.assign(**{s.TIMESTAMP: tx[s.TIMESTAMP].astype(f"datetime64[{unit}]")})
    pd.testing.assert_frame_equal(rfm_summary(other, AS_OF), rfm_summary(tx, AS_OF))


def test_row_order_does_not_matter():
    rng = np.random.default_rng(7)
    n = 5000
    df = pd.DataFrame(
        {
            s.CUSTOMER_ID: pd.array(rng.integers(0, 300, n).astype(str), dtype="string"),
            s.TIMESTAMP: pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 60 * 86400, n), unit="s"),
            s.REVENUE: np.round(rng.gamma(2.0, 20.0, n), 2),
        }
    )
    shuffled = df.sample(frac=1.0, random_state=3)
    for unit in ("D", "h"):
        assert_same_summary(
            rfm_summary(shuffled, "2023-02-20", time_unit=unit),
            rfm_summary(df, "2023-02-20", time_unit=unit),
        )


def test_custom_column_names(tx):
    renamed = tx.rename(columns={s.CUSTOMER_ID: "cust", s.TIMESTAMP: "when", s.REVENUE: "usd"})
    got = rfm_summary(renamed, AS_OF, customer_col="cust", timestamp_col="when", monetary_col="usd")
    assert got.index.name == "cust"
    pd.testing.assert_frame_equal(got.rename_axis(s.CUSTOMER_ID), rfm_summary(tx, AS_OF))


def test_no_rows_before_as_of_gives_an_empty_summary(tx):
    got = rfm_summary(tx, "2023-01-01")
    assert got.empty and list(got.columns) == COLUMNS and got.index.name == s.CUSTOMER_ID


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda d: d.drop(columns=s.TIMESTAMP), {}, "timestamp"),
        (lambda d: d.assign(timestamp=d[s.TIMESTAMP].astype(str)), {}, "datetime64"),
        (lambda d: d.assign(timestamp=d[s.TIMESTAMP].dt.tz_localize("UTC")), {}, "tz-naive"),
        (lambda d: d.assign(revenue=d[s.REVENUE].astype(str)), {}, "numeric"),
        (lambda d: d, {"time_unit": "M"}, "time_unit"),
        (lambda d: d, {"time_scaler": 0}, "time_scaler"),
        (lambda d: d, {"as_of": "not a date"}, "as_of"),
        (lambda d: d, {"as_of": pd.Timestamp("2024-01-11", tz="UTC")}, "as_of"),
    ],
)
def test_bad_input_raises_naming_the_column(tx, change, kwargs, match):
    kwargs = {"as_of": AS_OF, **kwargs}
    with pytest.raises(KizunaInputError, match=match):
        rfm_summary(change(tx), **kwargs)


def test_missing_values_before_as_of_are_reported(tx):
    bad = tx.copy()
    bad.loc[2, s.REVENUE] = np.nan
    with pytest.raises(KizunaInputError, match="revenue.*missing"):
        rfm_summary(bad, AS_OF)
    bad = tx.copy()
    bad.loc[0, s.CUSTOMER_ID] = pd.NA
    with pytest.raises(KizunaInputError, match="customer_id.*missing"):
        rfm_summary(bad, AS_OF)
    bad = tx.copy()
    bad.loc[3, s.TIMESTAMP] = pd.NaT
    with pytest.raises(KizunaInputError, match=r"timestamp.*NaT.*\(e\.g\. 3\)"):
        rfm_summary(bad, AS_OF)
