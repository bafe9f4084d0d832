"""An /events request's timestamps are read as one column, as the file validator reads a file."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from kizuna.serving.schemas import EventsRequest
from kizuna.training.files import read_table

LINE = {"customer_id": "C1", "order_id": "O1", "item_id": "I1", "quantity": 1, "unit_price": 2.0}


def request(*stamps: str) -> EventsRequest:
    lines = [{**LINE, "order_id": f"O{i}", "timestamp": t} for i, t in enumerate(stamps)]
    return EventsRequest.model_validate({"events": lines})


def read_as_a_file(tmp_path, *stamps: str) -> list[pd.Timestamp]:
    from kizuna.features.validate import validate_transactions

    path = tmp_path / "lines.csv"
    rows = [{**LINE, "order_id": f"O{i}", "timestamp": t} for i, t in enumerate(stamps)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return validate_transactions(read_table(path)).kept["timestamp"].tolist()


def test_the_order_is_settled_over_the_request_as_over_a_file(tmp_path):
    # 13/01 shows the day comes first: 05/02 is 5 February in both places (the request was
    # refused, line 2 alone being undecidable, while the same file was read).
    got = [e.timestamp for e in request("13/01/2024", "05/02/2024").events]
    assert got == [pd.Timestamp("2024-01-13"), pd.Timestamp("2024-02-05")]
    assert got == read_as_a_file(tmp_path, "13/01/2024", "05/02/2024")


def test_both_orders_in_one_request_are_refused_as_in_a_file():
    # Each line is readable alone (13/01 day-first, 01/13 month-first): stored as one day
    # before, while the same two lines in a file are refused.
    with pytest.raises(ValidationError) as info:
        request("13/01/2024", "01/13/2024")
    (error,) = info.value.errors()
    assert error["loc"] == ("events",)
    assert "both orders occur" in error["msg"] and "send ISO 8601 text" in error["msg"]
    assert "experiment" not in error["msg"]


def test_a_line_unreadable_alone_is_named_at_its_own_path():
    with pytest.raises(ValidationError) as info:
        request("2024-07-01T10:00:00", "05/02/2024")
    (error,) = info.value.errors()
    assert error["loc"] == ("events", 1, "timestamp")
    assert "cannot be told apart" in error["msg"] and "send ISO 8601 text" in error["msg"]


def test_zones_and_iso_lines_read_as_before():
    got = request("2024-01-13T10:00:00Z", "2024-01-14 10:00:00+02:00", "2024-01-15T09:30:00")
    assert [e.timestamp for e in got.events] == [
        pd.Timestamp("2024-01-13 10:00"),
        pd.Timestamp("2024-01-14 08:00"),
        pd.Timestamp("2024-01-15 09:30"),
    ]
