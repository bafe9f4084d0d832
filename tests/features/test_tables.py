"""Items and customers tables: typing, unique ids, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.tables import validate_customers, validate_items


def test_items_are_typed_and_indexed():
    items = validate_items(
        pd.DataFrame(
            {
                "item_id": [1.0, 2.0],
                "price": ["3.5", "4"],
                "margin": [0.3, 0.5],
                "in_stock": ["yes", None],
                "category": ["tea", "cups"],
            }
        )
    )
    assert items.index.tolist() == ["1", "2"]
    assert items[s.PRICE].tolist() == [3.5, 4.0]
    assert items[s.IN_STOCK].tolist() == [True, True]  # blank means in stock


@pytest.mark.parametrize(
    ("frame", "column"),
    [
        (pd.DataFrame({"item_id": ["a", "a"]}), "item_id"),
        (pd.DataFrame({"item_id": ["a"], "margin": [1.5]}), "margin"),
        (pd.DataFrame({"item_id": ["a"], "price": ["cheap"]}), "price"),
        (pd.DataFrame({"item_id": ["a"], "in_stock": ["maybe"]}), "in_stock"),
        (pd.DataFrame({"sku": ["a"]}), "item_id"),
    ],
)
def test_bad_items_name_the_column(frame, column):
    with pytest.raises(KizunaInputError) as info:
        validate_items(frame)
    assert info.value.column == column


def test_customers_with_a_contractual_label():
    customers = validate_customers(
        pd.DataFrame(
            {
                "customer_id": ["a", "b", "c"],
                "signup_date": ["2024-01-01", None, "2024-02-01"],
                "churned": ["Yes", "no", "1"],
                "plan": ["gold", "", None],
            }
        ),
        label_col="churned",
    )
    assert customers["churned"].tolist() == [1, 0, 1]
    assert customers[s.SIGNUP_DATE].iloc[0] == pd.Timestamp("2024-01-01")
    assert pd.isna(customers[s.SIGNUP_DATE].iloc[1])


def test_blank_labels_are_errors_not_guesses():
    with pytest.raises(KizunaInputError, match="churned"):
        validate_customers(
            pd.DataFrame({"customer_id": ["a"], "churned": [None]}), label_col="churned"
        )


def test_numbers_written_as_text_with_blanks_are_recognised_but_codes_are_not():
    import pandas as pd

    from kizuna.features.numbers import all_numbers

    assert all_numbers(pd.Series(["12.5", " ", "7"]))
    assert not all_numbers(pd.Series(["01234", "98765", ""]))  # a postcode: a code
    assert not all_numbers(pd.Series(["x", "1"])) and not all_numbers(pd.Series([1.0]))
