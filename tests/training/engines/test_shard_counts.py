"""The Spark engine's reconciliation from the shards' count rows (no Spark needed)."""

from __future__ import annotations

import pytest

from kizuna.training.engines.spark_counts import INPUT, PURCHASES, RETURNS, reconciliation


def test_counts_from_the_shards_make_the_pandas_report():
    counts = {INPUT: 10, PURCHASES: 6, RETURNS: 1, "zero_quantity": 2, "duplicate_row": 1}
    report = reconciliation(counts, "2024-01-01", None)
    assert report.input_rows == 10
    assert report.kept_rows == 7
    assert report.kept_purchases == 6 and report.kept_returns == 1
    assert report.set_aside == {"zero_quantity": 2, "duplicate_row": 1}
    assert report.balanced
    assert report.as_of == "2024-01-01T00:00:00"


def test_a_row_lost_between_the_shards_and_the_report_fails_loudly():
    # 10 rows received, 6 + 1 kept and 2 set aside: one row is unaccounted for.
    with pytest.raises(AssertionError, match="does not balance"):
        reconciliation({INPUT: 10, PURCHASES: 6, RETURNS: 1, "zero_quantity": 2}, None, None)
