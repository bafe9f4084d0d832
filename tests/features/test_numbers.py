"""Numbers written as text under a declared rule (decimal comma, grouped digits)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.numbers import NumberRule, all_numbers, parse_numbers
from kizuna.features.tables import validate_customers, validate_items
from kizuna.features.validate import validate_transactions

EURO = NumberRule(decimal=",", thousands=".")


def test_a_decimal_comma_with_dot_groups_reads_by_hand():
    text = pd.Series(["1.234,5", "1234,5", "-0,25", ",5", "12,", "1,5e3", " 7 ", "1.234.567"])
    assert parse_numbers(text, EURO).tolist() == [1234.5, 1234.5, -0.25, 0.5, 12, 1500, 7, 1234567]


@pytest.mark.parametrize("value", ["1.2", "12.34,5", "1,2,3", "1.234.56", "x", "", "1 234"])
def test_a_value_not_written_under_the_rule_is_unreadable_not_guessed(value):
    # "1.2" under thousands "." is not twelve: groups hold three digits.
    assert np.isnan(parse_numbers(pd.Series([value]), EURO).iloc[0])


def test_other_styles():
    assert parse_numbers(pd.Series(["1,234.5", "7"]), NumberRule(".", ",")).tolist() == [1234.5, 7]
    assert parse_numbers(pd.Series(["1 234,5"]), NumberRule(",", " ")).tolist() == [1234.5]
    assert parse_numbers(pd.Series(["1'234.5"]), NumberRule(".", "'")).tolist() == [1234.5]
    assert parse_numbers(pd.Series(["2,5"]), NumberRule(",")).tolist() == [2.5]


def test_the_default_rule_reads_as_pandas_and_typed_numbers_pass_through():
    assert parse_numbers(pd.Series(["1.5", "1,5"])).tolist()[0] == 1.5
    assert np.isnan(parse_numbers(pd.Series(["1,5"])).iloc[0])
    assert parse_numbers(pd.Series([1.25, 3.0]), EURO).tolist() == [1.25, 3.0]
    # A float inside an object column (a stored event beside a file's text) is not re-read.
    mixed = pd.Series(["2,5", 3.25, None], dtype=object)
    assert parse_numbers(mixed, EURO).tolist()[:2] == [2.5, 3.25]


def test_the_rule_is_checked_and_its_regex_is_ascii_digits_only():
    with pytest.raises(ValueError, match="both"):
        NumberRule(",", ",")
    with pytest.raises(ValueError, match="decimal"):
        NumberRule(";")  # type: ignore[arg-type]
    assert re.fullmatch(EURO.regex(), "1.234,5")
    assert np.isnan(parse_numbers(pd.Series(["١٢"]), EURO).iloc[0])  # Arabic-Indic digits


def test_transactions_under_a_rule_account_for_every_row():
    raw = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "a", "b", "b"],
            s.ORDER_ID: ["o1", "o2", "o3", "o4"],
            s.ITEM_ID: ["i", "i", "j", "j"],
            s.TIMESTAMP: ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
            s.QUANTITY: ["1", "2", "1.000", "1"],
            s.UNIT_PRICE: ["2,50", "1.234,00", "0,10", "1.5"],
        }
    )
    v = validate_transactions(raw, number_rule=EURO)
    # 2.5, 2 x 1234, 1000 x 0.1; "1.5" is no number under the rule: set aside, by name.
    assert v.kept[s.REVENUE].tolist() == [2.5, 2468.0, 100.0]
    assert v.report.set_aside == {"unparseable_price": 1}
    raw[s.UNIT_PRICE] = ["2,50", "1.234,00", "0,10", "7,5"]
    with pytest.raises(Exception, match=r"decimal: ',' and thousands: '\.' in the data section"):
        validate_transactions(raw)  # without the rule: the column fails, naming the setting


def test_items_and_customers_read_numbers_under_the_rule():
    items = validate_items(
        pd.DataFrame({s.ITEM_ID: ["i"], s.PRICE: ["1.299,00"], s.MARGIN: ["0,25"]}),
        number_rule=EURO,
    )
    assert items.loc["i", [s.PRICE, s.MARGIN]].tolist() == [1299.0, 0.25]
    raw = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "b"],
            "credit": ["1.500,00", "20"],
            "postcode": ["01234", "20095"],
            "plan": ["basic", "gold"],
        }
    )
    customers = validate_customers(raw, number_rule=EURO)
    assert customers["credit"].tolist() == [1500.0, 20.0]
    assert customers["postcode"].tolist() == ["01234", "20095"]  # a code keeps its zero
    assert customers["plan"].tolist() == ["basic", "gold"]
    # Part of a table (a Spark shard) converts the columns the whole table decided.
    part = validate_customers(raw.iloc[[1]], number_rule=EURO, number_columns=["credit"])
    assert part["credit"].tolist() == [20.0]
    assert all_numbers(raw["credit"], EURO) and not all_numbers(raw["credit"])
