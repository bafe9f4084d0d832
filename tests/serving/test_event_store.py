"""The SQLite event store: validation first, one transaction, durable, idempotent."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.serving.event_store import EventStore, check_events, read_events


def lines(**overrides) -> pd.DataFrame:
    base = {
        s.CUSTOMER_ID: ["C1", "C1", "C2"],
        s.ORDER_ID: ["O1", "O1", "O2"],
        s.ITEM_ID: ["I1", "I2", "I1"],
        s.TIMESTAMP: pd.to_datetime(["2024-07-02 10:00", "2024-07-02 10:00", "2024-07-03 09:30"]),
        s.QUANTITY: [1.0, 2.0, -1.0],
        s.UNIT_PRICE: [5.0, 2.5, 5.0],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_check_events_keeps_valid_lines_and_flags_returns():
    kept = check_events(lines(), now=pd.Timestamp("2024-07-10"))
    assert len(kept) == 3
    assert kept[s.REVENUE].tolist() == [5.0, 5.0, -5.0]
    assert kept[s.IS_RETURN].tolist() == [False, False, True]


@pytest.mark.parametrize(
    "column, values, reason",
    [
        (s.UNIT_PRICE, [5.0, 0.0, 5.0], "line 1: unit price is zero or negative"),
        (s.QUANTITY, [1.0, 2.0, 0.0], "line 2: quantity is zero"),
        (s.CUSTOMER_ID, ["C1", None, "C2"], "line 1: no customer id"),
    ],
)
def test_one_bad_line_refuses_the_whole_request(column, values, reason):
    with pytest.raises(KizunaInputError, match=reason) as err:
        check_events(lines(**{column: values}), now=pd.Timestamp("2024-07-10"))
    assert "nothing was stored" in str(err.value)


def test_future_timestamps_are_refused():
    with pytest.raises(KizunaInputError, match="future"):
        check_events(lines(), now=pd.Timestamp("2024-06-01"))


def test_append_and_read_back_in_order(tmp_path):
    store = EventStore(tmp_path / "ev.sqlite")
    result = store.append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    assert len(result.stored) == 3 and result.duplicates == 0
    back = store.read()
    assert back["seq"].tolist() == [1, 2, 3]
    assert back[s.ITEM_ID].tolist() == ["I1", "I2", "I1"]
    assert back[s.TIMESTAMP].iloc[2] == pd.Timestamp("2024-07-03 09:30")
    assert store.read(after=2)[s.CUSTOMER_ID].tolist() == ["C2"]
    assert store.last_seq() == 3


def test_a_retried_request_stores_nothing_twice(tmp_path):
    store = EventStore(tmp_path / "ev.sqlite")
    valid = check_events(lines(), now=pd.Timestamp("2024-07-10"))
    store.append(valid)
    again = store.append(valid)
    assert len(again.stored) == 0 and again.duplicates == 3
    assert store.last_seq() == 3


def test_lines_survive_closing_and_reopening(tmp_path):
    path = tmp_path / "ev.sqlite"
    store = EventStore(path)
    store.append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    store.close()
    assert len(EventStore(path).read()) == 3
    assert len(read_events(path)) == 3  # what training reads


def test_store_is_in_wal_mode_with_full_sync(tmp_path):
    path = tmp_path / "ev.sqlite"
    EventStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_failing_insert_rolls_back_the_whole_request(tmp_path, monkeypatch):
    import kizuna.serving.event_store as events

    store = EventStore(tmp_path / "ev.sqlite")
    valid = check_events(lines(), now=pd.Timestamp("2024-07-10"))
    rows = events._to_rows(valid)
    rows[2] = (object(), *rows[2][1:])  # cannot be bound: fails after two inserts
    monkeypatch.setattr(events, "_to_rows", lambda _: rows)
    with pytest.raises(sqlite3.Error):
        store.append(valid)
    assert store.last_seq() == 0 and len(store.read()) == 0


def test_changed_sees_other_connections_only(tmp_path):
    path = tmp_path / "ev.sqlite"
    reader, writer = EventStore(path), EventStore(path)
    assert not reader.changed()
    writer.append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    assert reader.changed() and not writer.changed()
    reader.read()
    assert not reader.changed()


def test_read_events_without_a_file_is_empty(tmp_path):
    frame = read_events(tmp_path / "missing.sqlite")
    assert len(frame) == 0 and s.CUSTOMER_ID in frame.columns
