"""Adapters for UCI Online Retail and CDNOW, on tiny frames and on the real files."""

from __future__ import annotations

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.adapters import from_cdnow, from_online_retail
from kizuna.features.errors import KizunaInputError
from kizuna.features.reconciliation import DUPLICATE_ROW, MISSING_CUSTOMER_ID, NON_POSITIVE_PRICE
from kizuna.features.validate import validate_transactions
from kizuna.training.data import read_transactions


def test_online_retail_maps_columns_and_flags_cancellations():
    raw = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "C536379"],
            "StockCode": ["85123A", "D"],
            "Description": ["HEART", "Discount"],
            "Quantity": [6, -1],
            "InvoiceDate": ["2010-12-01 08:26:00", "2010-12-01 09:41:00"],
            "UnitPrice": [2.55, 27.5],
            "CustomerID": [17850.0, 14527.0],
            "Country": ["United Kingdom", "United Kingdom"],
        }
    )
    kept = validate_transactions(from_online_retail(raw)).kept
    assert kept[s.CUSTOMER_ID].tolist() == ["17850", "14527"]
    assert kept[s.IS_RETURN].tolist() == [False, True]
    assert kept[s.REVENUE].round(2).tolist() == [15.30, -27.50]
    assert kept["country"].tolist() == ["United Kingdom"] * 2


def test_online_retail_without_its_columns_says_which_are_missing():
    with pytest.raises(KizunaInputError, match="InvoiceNo"):
        from_online_retail(pd.DataFrame({"StockCode": ["x"]}))


def test_cdnow_lines_are_separate_orders_of_cds():
    raw = pd.DataFrame(
        {
            "customer_id": ["00001", "00001", "00001"],
            "date": ["19970101", "19970101", "19970102"],
            "number_of_cds": ["2", "2", "1"],
            "dollar_value": ["29.33", "29.33", "0.00"],
        }
    )
    result = validate_transactions(from_cdnow(raw), allow_zero_price=True)
    kept = result.kept
    assert result.report.kept_rows == 3  # identical lines are distinct purchases here
    assert kept[s.ORDER_ID].nunique() == 3
    assert kept[s.CUSTOMER_ID].tolist() == ["00001"] * 3  # leading zeros kept
    assert kept[s.REVENUE].round(2).tolist() == [29.33, 29.33, 0.0]
    assert kept[s.TIMESTAMP].iloc[2] == pd.Timestamp("1997-01-02")


@pytest.mark.dataset
def test_online_retail_file_accounts_for_every_row(online_retail_path):
    raw = read_transactions(online_retail_path, format="online-retail")
    result = validate_transactions(raw.frame, **raw.validate_kwargs)
    report = result.report
    assert report.input_rows == 541_909
    assert report.balanced
    assert report.set_aside[MISSING_CUSTOMER_ID] == 135_080
    kept = result.kept
    purchases = kept[~kept[s.IS_RETURN]]
    # The dataset README: 397,884 clean rows include 5,192 exact repeats of a line,
    # which kizuna sets aside as duplicates.
    assert len(purchases) + report.set_aside[DUPLICATE_ROW] - _dup_returns(result) == 397_884
    assert purchases[s.CUSTOMER_ID].nunique() == 4_338
    assert purchases[s.ITEM_ID].nunique() == 3_665
    assert purchases[s.ORDER_ID].nunique() == 18_532
    assert report.set_aside[NON_POSITIVE_PRICE] == 40
    assert kept.loc[kept[s.IS_RETURN], s.ORDER_ID].str.startswith("C").all()


def _dup_returns(result) -> int:
    """Set-aside duplicates that are cancellation lines (not part of the 397,884)."""
    aside = result.set_aside
    dups = aside[aside[s.REASON] == DUPLICATE_ROW]
    return int(dups[s.ORDER_ID].astype("string").str.startswith("C").sum())


@pytest.mark.dataset
def test_cdnow_master_and_sample_load_whole(cdnow_master_path, cdnow_sample_path):
    master = read_transactions(cdnow_master_path, format="cdnow")
    result = validate_transactions(master.frame, **master.validate_kwargs)
    assert result.report.kept_rows == 69_659
    assert result.kept[s.CUSTOMER_ID].nunique() == 23_570
    assert result.kept[s.TIMESTAMP].min() == pd.Timestamp("1997-01-01")
    assert result.kept[s.TIMESTAMP].max() == pd.Timestamp("1998-06-30")
    sample = read_transactions(cdnow_sample_path, format="cdnow")
    result = validate_transactions(sample.frame, **sample.validate_kwargs)
    assert result.report.kept_rows == 6_919
    assert result.kept[s.CUSTOMER_ID].nunique() == 2_357
