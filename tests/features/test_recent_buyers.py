"""The one recent-buyer rule of audiences, by hand."""

from __future__ import annotations

import pandas as pd

from kizuna.features.recent_buyers import recent_item_lines


def test_purchases_and_returns_in_the_window_before_as_of_count():
    as_of = pd.Timestamp("2024-03-01")
    lines = pd.DataFrame({
        "timestamp": pd.to_datetime(["2024-01-30 23:59", "2024-01-31 00:00", "2024-02-20 00:00",
                                     "2024-02-29 23:59", "2024-03-01 00:00"]),
        "quantity": [1.0, 1.0, -1.0, 2.0, 1.0],
    })  # fmt: skip
    # 30 days before 2024-03-01 is 2024-01-31 (inclusive); as_of itself is outside.
    assert recent_item_lines(lines, as_of, 30).tolist() == [False, True, True, True, False]
    assert not recent_item_lines(lines, as_of, 0).any()
    assert recent_item_lines(lines.iloc[:0], as_of, 30).shape == (0,)
