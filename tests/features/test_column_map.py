"""Column map v2: columns, constants, expressions; keys checked when the config loads."""

from __future__ import annotations

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.column_map import apply_column_map, check_column_map
from kizuna.features.errors import KizunaInputError
from kizuna.training.config import DataConfig, parse_model

LOG = pd.DataFrame({"user": [1, 2], "item": ["a", "b"], "timestamp": [881250949, 891717742]})


def test_constants_expressions_and_one_source_for_two_targets():
    out = apply_column_map(
        LOG,
        {
            "customer_id": "user",
            "item_id": "item",
            "timestamp": "timestamp",
            "order_id": "{user}-{timestamp}",
            "quantity": 1,
            "unit_price": {"value": 2.5},
            "channel": "item",
        },
    )
    assert out[s.ORDER_ID].tolist() == ["1-881250949", "2-891717742"]
    assert out[s.QUANTITY].tolist() == [1, 1] and out[s.UNIT_PRICE].tolist() == [2.5, 2.5]
    assert out[s.CHANNEL].tolist() == out[s.ITEM_ID].tolist() == ["a", "b"]
    assert "user" not in out.columns  # used as a source: renamed away


def test_a_column_named_like_a_target_is_replaced_by_the_map():
    frame = pd.DataFrame({"timestamp": ["x", "y"], "When": ["2024-01-01", "2024-01-02"]})
    out = apply_column_map(frame, {"timestamp": "When", "order_id": "timestamp"})
    assert out[s.TIMESTAMP].tolist() == ["2024-01-01", "2024-01-02"]
    assert out[s.ORDER_ID].tolist() == ["x", "y"]


def test_an_expression_with_a_missing_part_leaves_the_id_missing():
    frame = pd.DataFrame({"a": ["1", None], "b": ["x", "y"]})
    out = apply_column_map(frame, {"order_id": "{a}/{b}"})
    assert out[s.ORDER_ID].iloc[0] == "1/x" and pd.isna(out[s.ORDER_ID].iloc[1])


def test_a_missing_source_column_is_named():
    with pytest.raises(KizunaInputError, match="usr"):
        apply_column_map(LOG, {"order_id": "{usr}-{timestamp}"})


def test_unknown_keys_list_the_valid_ones_when_the_config_loads():
    with pytest.raises(KizunaInputError) as err:
        parse_model(DataConfig, {"column_map": {"customer": "CustNo"}}, source="x.yaml")
    assert "customer" in str(err.value) and "customer_id" in str(err.value)
    assert "data.column_map" not in str(err.value) or "column_map" in str(err.value)


def test_a_reversed_map_is_recognised():
    with pytest.raises(ValueError, match="reversed.*customer_id: CustNo"):
        check_column_map({"CustNo": "customer_id", "When": "timestamp"}, table="transactions")


@pytest.mark.parametrize(
    ("table", "key"), [("items", "item_id"), ("customers", "signup_date"), ("items", "price")]
)
def test_items_and_customers_maps_know_their_own_columns(table, key):
    assert check_column_map({key: "Src"}, table=table) == {key: "Src"}
    with pytest.raises(ValueError, match="unknown"):
        check_column_map({"quantity": "Src"}, table="customers")


def test_a_bad_long_form_entry_is_refused():
    with pytest.raises(ValueError, match="long-form"):
        check_column_map({"quantity": {"const": 1}}, table="transactions")


def test_an_expression_names_columns_with_colons_and_bangs_and_keeps_escaped_braces():
    df = pd.DataFrame({"Cust:No": ["7"], "Time!": ["t1"], "qty": [1]})
    out = apply_column_map(df, {"order_id": "{Cust:No}-{Time!}{{x}}"})
    assert out["order_id"].tolist() == ["7-t1{x}"]
    with pytest.raises(ValueError, match="unmatched brace"):
        apply_column_map(df, {"order_id": "{Cust:No}}"})
