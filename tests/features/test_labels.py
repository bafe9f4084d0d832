"""Labels on the tiny shop of test_behaviour, worked out by hand.

Purchases by customer (days from AS_OF): a at -200, -100, -30 (and a return at
-20); b at -9.5 and exactly 0; c at -400 and +10; d at +5; e only a return at -5.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.behaviour import behaviour_vector
from kizuna.features.errors import KizunaInputError
from kizuna.features.labels import (
    churn_labels,
    contractual_churn_labels,
    future_value,
    stack_snapshots,
)
from tests.features.test_behaviour import AS_OF, DAY, make_tx, tiny_transactions


def test_churn_labels_population_and_window_edges():
    labels = churn_labels(tiny_transactions(), AS_OF, horizon_days=30)
    # Population: a purchase in [-365, 0): a and b; c's -400 is too old, e only returned.
    assert list(labels.columns) == [s.CUSTOMER_ID, s.AS_OF, s.CHURN]
    assert list(labels[s.CUSTOMER_ID]) == ["a", "b"]
    assert (labels[s.AS_OF] == AS_OF).all()
    # a buys nothing in [0, 30) -> churn; b's order exactly at AS_OF is in the window.
    assert list(labels[s.CHURN]) == [1, 0]


def test_churn_labels_without_lookback_and_right_edge_excluded():
    all_history = churn_labels(tiny_transactions(), AS_OF, horizon_days=30, lookback_days=None)
    assert list(all_history[s.CUSTOMER_ID]) == ["a", "b", "c"]
    assert list(all_history[s.CHURN]) == [1, 0, 0]  # c buys at +10
    # With a 10-day horizon c's purchase at +10 sits on the open right edge.
    short = churn_labels(tiny_transactions(), AS_OF, horizon_days=10, lookback_days=None)
    assert list(short[s.CHURN]) == [1, 0, 1]


def test_a_return_in_the_window_is_not_activity():
    ret = make_tx([("a", "r9", "x", AS_OF + 2 * DAY, -1, 10, "books")])
    tx = pd.concat([tiny_transactions(), ret], ignore_index=True)
    assert churn_labels(tx, AS_OF, 30).set_index(s.CUSTOMER_ID).loc["a", s.CHURN] == 1


def test_future_value_is_net_revenue_in_the_window():
    fv = future_value(tiny_transactions(), AS_OF, horizon_days=30)
    # Default population: a purchase before AS_OF (a, b, c). a: nothing; b: o5 = 10; c: o7 = 5.
    assert fv.name == s.FUTURE_VALUE and fv.index.name == s.CUSTOMER_ID
    assert fv.to_dict() == {"a": 0.0, "b": 10.0, "c": 5.0}
    # A return of 10 by b inside the window nets b's value to 0.
    ret = make_tx([("b", "r9", "x", AS_OF + 2 * DAY, -1, 10, "books")])
    tx = pd.concat([tiny_transactions(), ret], ignore_index=True)
    assert future_value(tx, AS_OF, 30)["b"] == 0.0
    # c's +10 purchase is outside a 10-day window.
    assert future_value(tiny_transactions(), AS_OF, 10)["c"] == 0.0


def test_future_value_for_customers_given_as_numbers_finds_their_text_ids():
    # Validated ids are text: customers=[12] found nobody and gave 0 in silence.
    tx = make_tx([("12", "o1", "x", AS_OF + DAY, 1, 7, "books"),
                  ("3", "o2", "x", AS_OF + DAY, 1, 4, "books")])  # fmt: skip
    fv = future_value(tx, AS_OF, 30, customers=[12, 3.0, 5])
    assert fv.to_dict() == {"12": 7.0, "3": 4.0, "5": 0.0}


def test_future_value_for_given_customers_keeps_their_order():
    fv = future_value(tiny_transactions(), AS_OF, 30, customers=["d", "a", "zz"])
    # d bought x for 10 at +5; a nothing; zz is unknown.
    assert list(fv.index) == ["d", "a", "zz"]
    assert list(fv) == [10.0, 0.0, 0.0]
    table = pd.DataFrame({s.CUSTOMER_ID: ["c", "b"]})
    assert future_value(tiny_transactions(), AS_OF, 30, customers=table).to_dict() == {
        "c": 5.0, "b": 10.0,
    }  # fmt: skip


def test_contractual_churn_labels_accept_bool_and_0_1():
    ints = pd.DataFrame({s.CUSTOMER_ID: ["b", "a", "c"], s.CHURN_LABEL: [1, 0, 1]})
    out = contractual_churn_labels(ints)
    assert list(out.columns) == [s.CUSTOMER_ID, s.CHURN]
    assert list(out[s.CUSTOMER_ID]) == ["a", "b", "c"]
    assert list(out[s.CHURN]) == [0, 1, 1]
    bools = ints.assign(**{s.CHURN_LABEL: [True, False, True]}).set_index(s.CUSTOMER_ID)
    assert list(contractual_churn_labels(bools)[s.CHURN]) == [0, 1, 1]
    floats = ints.assign(cancelled=[1.0, 0.0, 1.0])
    assert list(contractual_churn_labels(floats, label_col="cancelled")[s.CHURN]) == [0, 1, 1]


@pytest.mark.parametrize(
    ("values", "shown"),
    [([0, 2, 1], "2"), ([0.0, np.nan, 1.0], "nan"), (["yes", "no", "no"], "'yes'")],
)
def test_contractual_churn_labels_name_offending_values(values, shown):
    table = pd.DataFrame({s.CUSTOMER_ID: ["a", "b", "c"], s.CHURN_LABEL: values})
    with pytest.raises(KizunaInputError, match=s.CHURN_LABEL) as info:
        contractual_churn_labels(table)
    assert shown in str(info.value)


def test_contractual_churn_labels_need_the_column():
    with pytest.raises(KizunaInputError, match="churned"):
        contractual_churn_labels(pd.DataFrame({s.CUSTOMER_ID: ["a"]}))


def test_stack_snapshots_builds_a_joinable_training_set():
    tx = tiny_transactions()
    early = AS_OF - 100 * DAY
    X = stack_snapshots(tx, [early, AS_OF], behaviour_vector)
    y = stack_snapshots(tx, [early, AS_OF], partial(churn_labels, horizon_days=30))
    assert X.index.names == [s.CUSTOMER_ID, s.AS_OF]
    # Before `early`: a (o1 at -200; o2 at exactly -100 is excluded) and c (-400).
    assert list(X.index) == [("a", early), ("c", early), ("a", AS_OF), ("b", AS_OF),
                             ("c", AS_OF)]  # fmt: skip
    assert X.loc[("a", early), "frequency"] == 1 and X.loc[("a", AS_OF), "frequency"] == 3
    # Labels at `early`: a buys o2 exactly at `early` -> 0; c (-400 is within 365 days
    # of `early`) buys nothing in the next 30 days -> 1. At AS_OF: a 1, b 0.
    train = X.join(y, how="inner")
    assert train[s.CHURN].to_dict() == {("a", early): 0, ("c", early): 1, ("a", AS_OF): 1,
                                        ("b", AS_OF): 0}  # fmt: skip
    fv = stack_snapshots(tx, [AS_OF], partial(future_value, horizon_days=30))
    assert fv[s.FUTURE_VALUE].to_dict() == {("a", AS_OF): 0.0, ("b", AS_OF): 10.0,
                                            ("c", AS_OF): 5.0}  # fmt: skip


def test_stack_snapshots_rejects_repeated_or_no_snapshots():
    with pytest.raises(KizunaInputError, match="as_ofs"):
        stack_snapshots(tiny_transactions(), [AS_OF, AS_OF], behaviour_vector)
    with pytest.raises(KizunaInputError, match="as_ofs"):
        stack_snapshots(tiny_transactions(), [], behaviour_vector)


def test_bad_horizon_raises():
    with pytest.raises(KizunaInputError, match="horizon_days"):
        churn_labels(tiny_transactions(), AS_OF, horizon_days=0)
    with pytest.raises(KizunaInputError, match="horizon_days"):
        future_value(tiny_transactions(), AS_OF, horizon_days="soon")
