"""Validation: every row kept or set aside with a reason; clear errors on bad columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import reconciliation as r
from kizuna.features import schema as s
from kizuna.features import validate as v
from kizuna.features.errors import KizunaInputError


def raw_rows() -> pd.DataFrame:
    # One row per reason, plus two good purchases and one return.
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", None, "c", "c", "c", "c", "c", "d", "a", "e", "e"],
            "order_id": [
                "o1",
                "o1",
                "o2",
                "o3",
                "o4",
                "o5",
                "o6",
                "o7",
                "o8",
                "o9",
                "o1",
                "o10",
                None,
            ],
            "item_id": ["x", "y", "x", "x", "x", "x", "x", "x", "x", "x", "y", "x", "x"],
            "timestamp": [
                "2024-01-01 10:00",
                "2024-01-01 10:00",
                "2024-01-02",
                "2024-01-03",
                "not a date",
                "2024-01-05",
                "2024-01-06",
                "2024-01-07",
                "2024-03-01",
                "2024-01-09",
                "2024-01-01 10:00",
                "2024-01-10",
                "2024-01-11",
            ],
            "quantity": [2, 1, -1, 1, 1, "many", 1, 0, 1, 1, 1, 3, 1],
            "unit_price": [5.0, 3.0, 5.0, 5.0, 5.0, 5.0, -2.0, 5.0, 5.0, 0.0, 3.0, 2.0, 2.0],
        }
    )


def test_every_row_is_accounted_for_with_its_reason():
    result = v.validate_transactions(raw_rows(), as_of="2024-02-01")
    report = result.report
    assert report.input_rows == 13
    assert report.kept_rows == 4  # rows 0, 1, 2 (return), 11
    assert report.kept_returns == 1 and report.kept_purchases == 3
    assert report.set_aside == {
        r.MISSING_CUSTOMER_ID: 1,
        r.MISSING_ORDER_ID: 1,
        r.UNPARSEABLE_TIMESTAMP: 1,
        r.UNPARSEABLE_QUANTITY: 1,
        r.NON_POSITIVE_PRICE: 2,  # -2.0 and 0.0
        r.ZERO_QUANTITY: 1,
        r.AT_OR_AFTER_AS_OF: 1,
        r.DUPLICATE_ROW: 1,
    }
    assert report.balanced
    assert sorted(result.kept[s.ROW_ID]) == [0, 1, 2, 11]
    assert sorted(result.set_aside[s.ROW_ID]) == [3, 4, 5, 6, 7, 8, 9, 10, 12]
    reasons = dict(zip(result.set_aside[s.ROW_ID], result.set_aside[s.REASON], strict=True))
    assert reasons[10] == r.DUPLICATE_ROW and reasons[8] == r.AT_OR_AFTER_AS_OF


def test_kept_rows_are_typed_with_revenue_and_return_flag():
    kept = v.validate_transactions(raw_rows(), as_of="2024-02-01").kept.set_index(s.ROW_ID)
    assert kept.loc[0, s.REVENUE] == 10.0  # 2 x 5.0
    assert kept.loc[2, s.REVENUE] == -5.0 and kept.loc[2, s.IS_RETURN]
    assert not kept.loc[0, s.IS_RETURN]
    assert kept[s.TIMESTAMP].dtype == "datetime64[ns]"
    assert kept.loc[0, s.TIMESTAMP] == pd.Timestamp("2024-01-01 10:00")
    assert pd.api.types.is_string_dtype(kept[s.CUSTOMER_ID].dtype)


def test_as_of_is_exclusive_and_data_end_inclusive():
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a"],
            "order_id": ["1", "2", "3"],
            "item_id": ["x"] * 3,
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "quantity": [1, 1, 1],
            "unit_price": [1.0, 1.0, 1.0],
        }
    )
    by_as_of = v.validate_transactions(raw, as_of="2024-01-02").report
    assert by_as_of.kept_rows == 1 and by_as_of.set_aside == {r.AT_OR_AFTER_AS_OF: 2}
    by_end = v.validate_transactions(raw, data_end="2024-01-02").report
    assert by_end.kept_rows == 2 and by_end.set_aside == {r.AFTER_DATA_END: 1}
    # A line posted live after the export's end is not the export's: kept (it was lost
    # at every snapshot while counted as included).
    live = v.validate_transactions(
        raw, data_end="2024-01-02", stored_rows=np.array([False, False, True])
    ).report
    assert live.kept_rows == 3 and live.set_aside == {}


def test_adapter_flag_marks_cancellations_as_returns():
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "order_id": ["1", "C2"],
            "item_id": ["x", "x"],
            "timestamp": ["2024-01-01", "2024-01-02"],
            "quantity": [1, 1],
            "unit_price": [1.0, 1.0],
            s.IS_RETURN: [False, True],
        }
    )
    kept = v.validate_transactions(raw).kept
    assert kept[s.IS_RETURN].tolist() == [False, True]


def test_zero_prices_can_be_allowed_but_negative_never():
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "order_id": ["1", "2"],
            "item_id": ["x", "x"],
            "timestamp": ["2024-01-01", "2024-01-02"],
            "quantity": [1, 1],
            "unit_price": [0.0, -1.0],
        }
    )
    report = v.validate_transactions(raw, allow_zero_price=True).report
    assert report.kept_rows == 1 and report.set_aside == {r.NON_POSITIVE_PRICE: 1}


def test_float_customer_ids_lose_their_decimal_point():
    raw = pd.DataFrame(
        {
            "customer_id": [17850.0, np.nan],
            "order_id": ["1", "2"],
            "item_id": ["x", "x"],
            "timestamp": ["2024-01-01", "2024-01-02"],
            "quantity": [1, 1],
            "unit_price": [1.0, 1.0],
        }
    )
    result = v.validate_transactions(raw)
    assert result.kept[s.CUSTOMER_ID].tolist() == ["17850"]
    assert result.report.set_aside == {r.MISSING_CUSTOMER_ID: 1}


def test_float_ids_written_as_text_are_the_same_customer():
    raw = pd.DataFrame(
        {
            # the same id as a float export writes it, padded, and as an integer
            "customer_id": ["17850.0", " 17850.0 ", "17850", "A.0"],
            "order_id": ["1", "2", "3", "4"],
            "item_id": ["85123.0", "85123", "x", "y"],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
            "quantity": [1, 1, 1, 1],
            "unit_price": [1.0, 1.0, 1.0, 1.0],
        }
    )
    kept = v.validate_transactions(raw).kept
    assert kept[s.CUSTOMER_ID].tolist() == ["17850", "17850", "17850", "A.0"]
    assert kept[s.ITEM_ID].tolist() == ["85123", "85123", "x", "y"]


def test_missing_required_column_names_it():
    raw = raw_rows().drop(columns=["unit_price"])
    with pytest.raises(KizunaInputError, match="unit_price"):
        v.validate_transactions(raw)


def test_a_column_of_the_wrong_type_fails_naming_the_column_and_values():
    raw = raw_rows()
    raw["timestamp"] = ["red", "green"] * 6 + ["blue"]
    with pytest.raises(KizunaInputError) as info:
        v.validate_transactions(raw)
    message = str(info.value)
    assert "'timestamp'" in message and "'red'" in message
    assert info.value.column == "timestamp"


def test_timezone_aware_timestamps_become_naive_utc():
    raw = pd.DataFrame(
        {
            "customer_id": ["a"],
            "order_id": ["1"],
            "item_id": ["x"],
            "timestamp": ["2024-01-01T10:00:00+09:00"],
            "quantity": [1],
            "unit_price": [1.0],
        }
    )
    kept = v.validate_transactions(raw).kept
    assert kept.loc[0, s.TIMESTAMP] == pd.Timestamp("2024-01-01 01:00")


def test_empty_input_balances():
    raw = raw_rows().iloc[:0]
    report = v.validate_transactions(raw).report
    assert report.input_rows == 0 and report.kept_rows == 0 and report.balanced


def test_report_serialises_to_plain_json_types():
    import json

    report = v.validate_transactions(raw_rows()).report.to_dict()
    again = json.loads(json.dumps(report))
    assert again["input_rows"] == 13 and again["balanced"] is True


def test_the_span_reads_set_aside_later_rows_under_the_files_rule():
    from kizuna.features.timestamps import TimestampRule

    raw = pd.DataFrame(
        {
            "customer_id": ["A", "B", "A", "B"],
            "order_id": ["1", "2", "3", "4"],
            "item_id": ["x", "y", "y", "x"],
            # day first: 13 Jan, 5 Feb, 3 Apr, and one line with no price
            "timestamp": ["13/01/2024", "05/02/2024", "03/04/2024", "09/05/2024"],
            "quantity": [1, 1, 1, 1],
            "unit_price": [2.0, 3.0, 3.0, None],
        }
    )
    result = v.validate_transactions(
        raw, as_of="2024-03-20", timestamp_rule=TimestampRule(dayfirst=True)
    )
    assert result.report.set_aside == {r.AT_OR_AFTER_AS_OF: 1, r.UNPARSEABLE_PRICE: 1}
    # 3 April, read day first (text re-read without the rule gave 4 March); not 9 May:
    # a line without a price is no purchase
    assert result.span == (pd.Timestamp("2024-01-13"), pd.Timestamp("2024-04-03"))
    alone = v.validate_transactions(raw.iloc[3:], timestamp_rule=TimestampRule(dayfirst=True))
    assert alone.span is None


def test_the_span_of_time_zone_aware_lines_is_naive_utc_like_the_kept_lines():
    from kizuna.training.data_span import check_as_of_in_data

    stamps = ["2024-01-13T10:00:00+00:00", "2024-02-05T10:00:00-05:00", "2024-04-03T10:00:00+09:00"]
    raw = pd.DataFrame(
        {
            "customer_id": ["A", "B", "A"],
            "order_id": ["1", "2", "3"],
            "item_id": ["x", "y", "y"],
            "timestamp": stamps,
            "quantity": [1, 1, 1],
            "unit_price": [2.0, 3.0, 3.0],
        }
    )
    result = v.validate_transactions(raw, as_of="2024-03-01")
    assert result.span == (pd.Timestamp("2024-01-13 10:00"), pd.Timestamp("2024-04-03 01:00"))
    check_as_of_in_data(result, pd.Timestamp("2024-03-01"))  # compared, not a TypeError


@pytest.mark.parametrize("as_of", ["yesterday", pd.Timestamp("2024-01-02 09:00", tz="Asia/Tokyo")])
def test_an_unreadable_or_zoned_as_of_is_named(as_of):
    # pandas' own TypeError / DateParseError before; every feature function names it so.
    raw = pd.DataFrame({"customer_id": ["a"], "order_id": ["1"], "item_id": ["x"],
                        "timestamp": ["2024-01-01"], "quantity": [1], "unit_price": [1.0]})  # fmt: skip
    with pytest.raises(KizunaInputError, match="as_of"):
        v.validate_transactions(raw, as_of=as_of)
