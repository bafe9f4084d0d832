"""behaviour_vector on a tiny shop whose every number is worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.behaviour import behaviour_vector
from kizuna.features.errors import KizunaInputError

AS_OF = pd.Timestamp("2024-04-01")
DAY = pd.Timedelta(days=1)


def make_tx(rows: list[tuple]) -> pd.DataFrame:
    """Canonical validated transactions from (customer, order, item, time, qty, price, category)."""
    cust, order, item, ts, qty, price, cat = zip(*rows, strict=True)
    qty_arr = np.asarray(qty, dtype=float)
    price_arr = np.asarray(price, dtype=float)
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: pd.array(cust, dtype="string"),
            s.ORDER_ID: pd.array(order, dtype="string"),
            s.ITEM_ID: pd.array(item, dtype="string"),
            s.TIMESTAMP: pd.to_datetime(list(ts)).astype("datetime64[ns]"),
            s.QUANTITY: qty_arr,
            s.UNIT_PRICE: price_arr,
            s.REVENUE: qty_arr * price_arr,
            s.IS_RETURN: qty_arr < 0,
            s.CATEGORY: pd.array(cat, dtype="string"),
        }
    )


def tiny_transactions() -> pd.DataFrame:
    """Four customers around AS_OF = 2024-04-01 (x, z are books; y is toys).

    a: o1 at -200d: x 2 x 10 + y 1 x 30 = 50; o2 at -100d: x 1 x 10 = 10;
       o3 at -30d exactly: x 1 x 10 (at -30d) + z 4 x 5 (one hour later) = 30;
       return r1 at -20d: y -1 x 30 = -30.
    b: o4 at -9.5d: y 2 x 30 = 60; o5 exactly at AS_OF: x 1 x 10 (future).
    c: o6 at -400d: z 1 x 5 = 5; o7 at +10d: z 1 x 5 (future).
    d: o8 at +5d only (future). e: a return at -5d only (no purchase).
    """
    h = pd.Timedelta(hours=1)
    return make_tx(
        [
            ("a", "o1", "x", AS_OF - 200 * DAY, 2, 10, "books"),
            ("a", "o1", "y", AS_OF - 200 * DAY, 1, 30, "toys"),
            ("a", "o2", "x", AS_OF - 100 * DAY, 1, 10, "books"),
            ("a", "o3", "x", AS_OF - 30 * DAY, 1, 10, "books"),
            ("a", "o3", "z", AS_OF - 30 * DAY + h, 4, 5, "books"),
            ("a", "r1", "y", AS_OF - 20 * DAY, -1, 30, "toys"),
            ("b", "o4", "y", AS_OF - 9.5 * DAY, 2, 30, "toys"),
            ("b", "o5", "x", AS_OF, 1, 10, "books"),
            ("c", "o6", "z", AS_OF - 400 * DAY, 1, 5, "books"),
            ("c", "o7", "z", AS_OF + 10 * DAY, 1, 5, "books"),
            ("d", "o8", "x", AS_OF + 5 * DAY, 1, 10, "books"),
            ("e", "r2", "x", AS_OF - 5 * DAY, -1, 10, "books"),
        ]
    )


@pytest.fixture
def bv() -> pd.DataFrame:
    return behaviour_vector(tiny_transactions(), AS_OF)


def test_population_is_customers_with_a_purchase_before_as_of(bv):
    # d buys only after AS_OF; e only returned something.
    assert list(bv.index) == ["a", "b", "c"]
    assert bv.index.name == s.CUSTOMER_ID


def test_rfm_core(bv):
    a, b, c = bv.loc["a"], bv.loc["b"], bv.loc["c"]
    # a: orders at -200, -100, -30 (o3 dated by its earliest line).
    assert a["recency_days"] == 30 and a["tenure_days"] == 200
    assert a["frequency"] == 3
    assert a["monetary_total"] == 90 and a["monetary_mean"] == 30
    # order values 50, 10, 30 around 30: deviations 20, -20, 0 -> var 800 / 3.
    assert a["monetary_std"] == pytest.approx(np.sqrt(800 / 3))
    # b: o5 at AS_OF is excluded, so one order of 60, 9.5 days ago.
    assert b["frequency"] == 1 and b["monetary_total"] == 60 and b["monetary_std"] == 0
    assert b["recency_days"] == 9.5 and b["tenure_days"] == 9.5
    assert c["recency_days"] == 400 and c["monetary_mean"] == 5


def test_windows_are_half_open_and_include_the_left_edge(bv):
    a, b, c = bv.loc["a"], bv.loc["b"], bv.loc["c"]
    # o3 sits exactly at AS_OF - 30d: inside [AS_OF - 30d, AS_OF).
    assert (a["orders_30d"], a["revenue_30d"]) == (1, 30)
    assert (a["orders_90d"], a["revenue_90d"]) == (1, 30)
    assert (a["orders_180d"], a["revenue_180d"]) == (2, 40)  # o2 (-100d) + o3
    assert (a["orders_365d"], a["revenue_365d"]) == (3, 90)
    # b's order at AS_OF is never in a window; its -9.5d order is in all of them.
    assert [b[f"orders_{w}d"] for w in (30, 90, 180, 365)] == [1, 1, 1, 1]
    assert b["revenue_30d"] == 60
    # c's only order is 400 days old: outside every window.
    assert [c[f"orders_{w}d"] for w in (30, 90, 180, 365)] == [0, 0, 0, 0]


def test_window_right_edge_exactly_w_days_is_in_but_a_nanosecond_more_is_out():
    tx = make_tx(
        [
            ("a", "o1", "x", AS_OF - 30 * DAY, 1, 10, "books"),
            ("b", "o2", "x", AS_OF - 30 * DAY - pd.Timedelta(1, "ns"), 1, 10, "books"),
        ]
    )
    bv = behaviour_vector(tx, AS_OF)
    assert bv.loc["a", "orders_30d"] == 1
    assert bv.loc["b", "orders_30d"] == 0


def test_inter_purchase_gaps_and_recency_ratio(bv):
    a, b = bv.loc["a"], bv.loc["b"]
    # a: gaps 100 and 70 days -> mean 85, population std 15; ratio 30 / 85.
    assert a["gap_mean_days"] == pytest.approx(85)
    assert a["gap_std_days"] == pytest.approx(15)
    assert a["recency_ratio"] == pytest.approx(30 / 85)
    # One order: no gap, so gap features and the ratio are NaN by definition.
    assert np.isnan(b["gap_mean_days"]) and np.isnan(b["gap_std_days"])
    assert np.isnan(b["recency_ratio"])


def test_trend(bv):
    a, b, c = bv.loc["a"], bv.loc["b"], bv.loc["c"]
    # a: last 90 days hold o3 (30), the 90 before hold o2 (10): (30-10)/(30+10).
    assert a["revenue_trend"] == pytest.approx(0.5)
    assert a["order_trend"] == 0  # one order in each period
    assert b["revenue_trend"] == 1 and b["order_trend"] == 1  # only recent
    assert c["revenue_trend"] == 0 and c["order_trend"] == 0  # nothing in 180 days


def test_basket_items_and_returns(bv):
    a, b = bv.loc["a"], bv.loc["b"]
    # a: 5 purchase lines, 2+1+1+1+4 = 9 units over 3 orders; items x, y, z.
    assert a["basket_lines_mean"] == pytest.approx(5 / 3)
    assert a["basket_quantity_mean"] == pytest.approx(3)
    assert a["distinct_items"] == 3
    # a returned 30 of 90 purchased; b returned nothing.
    assert a["return_rate"] == pytest.approx(1 / 3)
    assert b["return_rate"] == 0
    assert (b["basket_lines_mean"], b["basket_quantity_mean"], b["distinct_items"]) == (1, 2, 1)


def test_categories_from_transactions(bv):
    a, b = bv.loc["a"], bv.loc["b"]
    # a: books on 4 lines (x, x, x, z), toys on 1 (y).
    assert a["distinct_categories"] == 2
    assert a["top_category_share"] == pytest.approx(0.8)
    assert b["distinct_categories"] == 1 and b["top_category_share"] == 1


def test_categories_via_items_table_match_transaction_categories(bv):
    tx = tiny_transactions().drop(columns=[s.CATEGORY])
    assert s.CATEGORY not in behaviour_vector(tx, AS_OF).columns
    items = pd.DataFrame({s.ITEM_ID: ["x", "y", "z"], s.CATEGORY: ["books", "toys", "books"]})
    via_items = behaviour_vector(tx, AS_OF, items=items)
    cols = ["distinct_categories", "top_category_share"]
    pd.testing.assert_frame_equal(via_items[cols], bv[cols])
    # A validated items table is indexed by item id; that works too.
    indexed = behaviour_vector(tx, AS_OF, items=items.set_index(s.ITEM_ID))
    pd.testing.assert_frame_equal(indexed[cols], bv[cols])


def test_lines_without_a_category_are_left_out_of_the_category_features():
    tx = tiny_transactions()
    tx.loc[tx[s.ITEM_ID] == "y", s.CATEGORY] = pd.NA
    a = behaviour_vector(tx, AS_OF).loc["a"]
    # Only the 4 books lines have a category now.
    assert a["distinct_categories"] == 1 and a["top_category_share"] == 1
    b = behaviour_vector(tx, AS_OF).loc["b"]
    assert b["distinct_categories"] == 0 and np.isnan(b["top_category_share"])


def test_customer_attributes():
    customers = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "b", "c", "d"],
            s.SIGNUP_DATE: pd.to_datetime(
                [AS_OF - 365 * DAY, pd.NaT, AS_OF + DAY, AS_OF - DAY]
            ).astype("datetime64[ns]"),
            "age": [30, 40, 50, 60],
            "vip": [True, False, True, False],
            "region": ["n", "s", "n", "e"],
            s.PREFERRED_CATEGORIES: ["books", None, "toys", None],
            s.CHURN_LABEL: [0, 1, 0, 1],
            "closed_at": pd.to_datetime(["2025-01-01"] * 4),
        }
    )
    bv = behaviour_vector(tiny_transactions(), AS_OF, customers=customers)
    # a signed up 365 days before; b has no date; c's date is after AS_OF.
    assert bv.loc["a", "signup_tenure_days"] == 365
    assert np.isnan(bv.loc["b", "signup_tenure_days"])
    assert np.isnan(bv.loc["c", "signup_tenure_days"])
    assert list(bv["age"]) == [30, 40, 50]
    assert list(bv["vip"]) == [1.0, 0.0, 1.0]
    assert isinstance(bv["region"].dtype, pd.CategoricalDtype)
    # Categories come from the whole table, so every snapshot gets the same ones.
    assert list(bv["region"].cat.categories) == ["e", "n", "s"]
    assert list(bv["region"].astype(str)) == ["n", "s", "n"]
    for skipped in (s.PREFERRED_CATEGORIES, s.CHURN_LABEL, "closed_at", s.SIGNUP_DATE):
        assert skipped not in bv.columns
    # A customer missing from the table gets NaN attributes.
    partial = behaviour_vector(tiny_transactions(), AS_OF, customers=customers.iloc[[0]])
    assert np.isnan(partial.loc["b", "age"])


def test_customer_attributes_that_clash_with_feature_names_raise():
    customers = pd.DataFrame({s.CUSTOMER_ID: ["a"], "frequency": [3]})
    with pytest.raises(KizunaInputError, match="frequency"):
        behaviour_vector(tiny_transactions(), AS_OF, customers=customers)


def test_shared_order_id_is_split_by_customer():
    tx = make_tx(
        [
            ("a", "o1", "x", AS_OF - 10 * DAY, 1, 10, "books"),
            ("b", "o1", "x", AS_OF - 5 * DAY, 1, 20, "books"),
        ]
    )
    bv = behaviour_vector(tx, AS_OF)
    assert list(bv["frequency"]) == [1, 1]
    assert list(bv["recency_days"]) == [10, 5]


def test_nothing_before_as_of_gives_an_empty_frame_with_the_columns(bv):
    empty = behaviour_vector(tiny_transactions(), AS_OF - 1000 * DAY)
    assert len(empty) == 0
    assert list(empty.columns) == list(bv.columns)


def test_as_of_exclusive_changes_nothing_for_earlier_rows(bv):
    # Moving AS_OF by one nanosecond puts b's order o5 (at AS_OF) into the features.
    later = behaviour_vector(tiny_transactions(), AS_OF + pd.Timedelta(1, "ns"))
    assert later.loc["b", "frequency"] == 2
    assert bv.loc["b", "frequency"] == 1


@pytest.mark.parametrize(
    ("mutate", "column"),
    [
        (lambda df: df.drop(columns=[s.REVENUE]), s.REVENUE),
        (lambda df: df.assign(**{s.TIMESTAMP: df[s.TIMESTAMP].astype(str)}), s.TIMESTAMP),
        (lambda df: df.assign(**{s.IS_RETURN: df[s.IS_RETURN].astype(int)}), s.IS_RETURN),
        (
            lambda df: df.assign(**{s.CUSTOMER_ID: df[s.CUSTOMER_ID].mask(df.index == 0)}),
            s.CUSTOMER_ID,
        ),
        (lambda df: df.assign(**{s.REVENUE: df[s.REVENUE].mask(df.index == 0)}), s.REVENUE),
    ],
)
def test_bad_input_raises_naming_the_column(mutate, column):
    with pytest.raises(KizunaInputError, match=column):
        behaviour_vector(mutate(tiny_transactions()), AS_OF)


def test_bad_as_of_raises():
    with pytest.raises(KizunaInputError, match="as_of"):
        behaviour_vector(tiny_transactions(), "not a date")
    with pytest.raises(KizunaInputError, match="as_of"):
        behaviour_vector(tiny_transactions(), pd.Timestamp("2024-04-01", tz="UTC"))


def test_sorted_and_dense_pair_counting_agree(monkeypatch, bv):
    import kizuna.features.id_codes as id_codes

    monkeypatch.setattr(id_codes, "_DENSE_CELLS", 0)  # force the sort path everywhere
    pd.testing.assert_frame_equal(behaviour_vector(tiny_transactions(), AS_OF), bv)


def test_factorize_ids_with_runs_matches_plain_factorize():
    from kizuna.features.id_codes import factorize_ids

    rng = np.random.default_rng(0)
    ids = pd.array(np.repeat(rng.choice(list("pqrstu"), 200), rng.integers(1, 4, 200)),
                   dtype="string")  # fmt: skip
    plain = factorize_ids(ids, column="c", sort=True)
    runs = factorize_ids(ids, column="c", sort=True, runs=True)
    np.testing.assert_array_equal(runs[0], plain[0])
    assert runs[1].equals(plain[1])


@pytest.mark.parametrize("dtype", ["category", object, pd.StringDtype("python")])
def test_other_id_dtypes_give_the_same_features(dtype, bv):
    tx = tiny_transactions()
    for col in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.CATEGORY):
        tx[col] = tx[col].astype(dtype)
    out = behaviour_vector(tx, AS_OF)
    assert not isinstance(out.index.dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(out, bv, check_index_type=False)


def test_recency_ratio_counts_a_usual_gap_under_a_day_as_one_day():
    # Two orders an hour apart, the last 10 days before as_of: the usual gap is
    # 1/24 day, floored at 1 day, so the ratio is 10, not 240.
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "order_id": ["1", "2"],
            "item_id": ["x", "x"],
            "timestamp": pd.to_datetime(["2024-01-21 09:00", "2024-01-21 10:00"]),
            "quantity": [1.0, 1.0],
            "unit_price": [1.0, 1.0],
            "revenue": [1.0, 1.0],
            "is_return": [False, False],
        }
    )
    row = behaviour_vector(tx, pd.Timestamp("2024-01-31 10:00")).loc["a"]
    assert row["gap_mean_days"] == pytest.approx(1 / 24)
    assert row["recency_ratio"] == pytest.approx(10.0)


def test_customer_features_name_a_bad_or_early_as_of():
    from kizuna.features.errors import KizunaInputError
    from kizuna.features.pipeline import customer_features
    from kizuna.features.validate import validate_transactions

    tx = validate_transactions(
        pd.DataFrame(
            {
                "customer_id": ["a", "b"],
                "order_id": ["1", "2"],
                "item_id": ["x", "y"],
                "timestamp": ["2024-01-01", "2024-02-01"],
                "quantity": [1, 1],
                "unit_price": [1.0, 2.0],
            }
        )
    ).kept
    with pytest.raises(KizunaInputError, match="as_of.*must be an ISO 8601 date"):
        customer_features(tx, "yesterday")
    with pytest.raises(KizunaInputError, match="transactions span 2024-01-01 00:00:00 to 2024-02"):
        customer_features(tx, "2023-01-01")
