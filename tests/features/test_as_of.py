"""as_of_timestamp: the one reading of an ``as_of`` argument, strict about what it takes."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd
import pytest

from kizuna.features.as_of import as_of_timestamp
from kizuna.features.errors import KizunaInputError


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-05",
        " 2024-03-05 ",
        datetime.date(2024, 3, 5),
        datetime.datetime(2024, 3, 5),
        pd.Timestamp("2024-03-05"),
        np.datetime64("2024-03-05"),
    ],
)
def test_dates_of_every_accepted_type_read_as_the_same_instant(value):
    ts = as_of_timestamp(value)
    assert ts == pd.Timestamp("2024-03-05")
    assert ts.unit == "ns"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05T10:30", "2024-03-05 10:30"),
        ("2024-03-05 10:30:15", "2024-03-05 10:30:15"),
        ("2024-03-05T10:30:15.250", "2024-03-05 10:30:15.250"),
    ],
)
def test_iso_times_are_read(text, expected):
    assert as_of_timestamp(text) == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1_700_000_000_000_000_000, "1700000000000000000"),  # pd.Timestamp: 2023-11-14
        (20240305, "20240305"),  # a date written as a number: 1970 plus 20 ms
        (np.int64(5), "5"),
        (1.7e18, "1.7e+18"),
        (True, "True"),
    ],
)
def test_numbers_and_bools_are_refused_naming_the_argument_and_value(value, shown):
    with pytest.raises(
        ValueError, match=rf"'as_of'.*not {type(value).__name__}.*{re.escape(shown)}"
    ):
        as_of_timestamp(value)


@pytest.mark.parametrize("text", ["05/03/2024", "03-05-2024", "20240305", "yesterday", "2024"])
def test_non_iso_text_is_refused(text):
    with pytest.raises(KizunaInputError, match=r"'cutoff'.*ISO 8601") as info:
        as_of_timestamp(text, name="cutoff")
    assert repr(text) in str(info.value)


def test_a_zoned_time_is_refused_by_name():
    with pytest.raises(KizunaInputError, match=r"'as_of'.*naive"):
        as_of_timestamp("2024-03-05T10:00+09:00")
    with pytest.raises(KizunaInputError, match=r"'as_of'.*naive"):
        as_of_timestamp(pd.Timestamp("2024-03-05", tz="UTC"))


def test_missing_and_impossible_dates_are_refused():
    with pytest.raises(KizunaInputError, match="not missing"):
        as_of_timestamp(pd.NaT)
    with pytest.raises(KizunaInputError, match=r"'as_of'.*2024-02-30"):
        as_of_timestamp("2024-02-30")
    with pytest.raises(KizunaInputError, match=r"'as_of'.*NoneType"):
        as_of_timestamp(None)


def _builders():
    from kizuna.features.behaviour import behaviour_vector
    from kizuna.features.interactions import build_interactions
    from kizuna.features.labels import churn_labels, future_value
    from kizuna.features.pipeline import customer_features
    from kizuna.features.rfm import rfm_summary

    return {
        "behaviour_vector": lambda tx, a: behaviour_vector(tx, a),
        "build_interactions": lambda tx, a: build_interactions(tx, a),
        "churn_labels": lambda tx, a: churn_labels(tx, a, 30),
        "future_value": lambda tx, a: future_value(tx, a, 30),
        "customer_features": lambda tx, a: customer_features(tx, a),
        "rfm_summary": lambda tx, a: rfm_summary(tx, a),
    }


@pytest.mark.parametrize("name", sorted(_builders()))
def test_every_feature_builder_refuses_a_number_for_as_of(name):
    from tests.features.test_behaviour import AS_OF, tiny_transactions

    build = _builders()[name]
    tx = tiny_transactions()
    assert build(tx, AS_OF).shape[0] > 0  # the Timestamp works
    with pytest.raises(KizunaInputError, match=r"'as_of'.*not int"):
        build(tx, AS_OF.value)  # the same instant as pd.Timestamp read the integer
