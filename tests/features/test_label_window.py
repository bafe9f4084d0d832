"""customer_labels warns when its label window runs past the end of the data.

The log, by hand: a buys on 2024-01-01 (10.0) and 2024-03-01 (5.0), b on
2024-01-15 (7.0); the data ends on 2024-03-01. As of 2024-02-01 both are in
the population; a buys again inside a 30-day window, b does not.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from kizuna.features.pipeline import customer_labels
from kizuna.features.validate import validate_transactions


def tiny_log() -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_id": ["1", "2", "3"],
            "item_id": ["x", "x", "y"],
            "timestamp": ["2024-01-01", "2024-03-01", "2024-01-15"],
            "quantity": [1, 1, 1],
            "unit_price": [10.0, 5.0, 7.0],
        }
    )
    return validate_transactions(raw).kept


def test_a_window_inside_the_data_gives_labels_and_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        # [02-01, 03-02) ends one day after the last purchase: the day's grace
        labels = customer_labels(tiny_log(), "2024-02-01", horizon_days=30)
    assert labels["churn"].to_dict() == {"a": 0, "b": 1}
    assert labels["future_value"].to_dict() == {"a": 5.0, "b": 0.0}


def test_a_window_past_the_data_warns_naming_as_of_horizon_and_last_date():
    # [03-01, 03-31): nothing after 03-01 can be seen, so a looks churned
    with pytest.warns(UserWarning, match="label window") as caught:
        labels = customer_labels(tiny_log(), "2024-03-01", horizon_days=30)
    text = str(caught[0].message)
    assert "as_of 2024-03-01" in text
    assert "+30 days" in text
    assert "2024-03-31" in text  # the window's end
    assert "2024-03-01 00:00:00" in text.split("data ends")[1]  # the last purchase
    assert labels["churn"].to_dict() == {"a": 0, "b": 1}  # still computed, as asked


def test_a_window_two_days_past_the_data_warns():
    with pytest.warns(UserWarning, match=r"\+31 days"):
        customer_labels(tiny_log(), "2024-02-01", horizon_days=31)


def test_a_given_data_end_replaces_the_last_line_of_a_cut_log():
    # A log cut at the window's end (as `kizuna features` reads it) whose export goes on
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        customer_labels(tiny_log(), "2024-03-01", horizon_days=30, data_end="2024-06-30")
    with pytest.warns(UserWarning, match=r"data ends \(2024-03-15"):
        customer_labels(tiny_log(), "2024-03-01", horizon_days=30, data_end="2024-03-15")
