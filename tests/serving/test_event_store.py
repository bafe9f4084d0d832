"""The SQLite event store: validation first, one transaction, durable, idempotent."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.serving.event_checks import check_events
from kizuna.serving.event_rows import read_events
from kizuna.serving.event_store import EventStore


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
    more = lines(**{s.ORDER_ID: ["O7", "O7", "O8"]})
    stored = store.append(check_events(more, now=pd.Timestamp("2024-07-10"))).stored
    assert stored["seq"].tolist() == [4, 5, 6]  # a retry takes no sequence numbers


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
    rows = events.to_rows(valid)
    rows[2] = (object(), *rows[2][1:])  # cannot be bound: fails after two inserts
    monkeypatch.setattr(events, "to_rows", lambda _: rows)
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


@pytest.mark.parametrize(
    "column, values, reason",
    [
        (s.QUANTITY, [1.0, 1e308, 1.0], "line 1: quantity 1e+308 is not a finite number"),
        (s.UNIT_PRICE, [5.0, 2.5, float("inf")], "line 2: unit_price inf is not a finite"),
        (s.QUANTITY, [1.0, float("nan"), 1.0], "line 1: quantity"),
        (s.CUSTOMER_ID, ["C1", 17850.0, "C2"], "line 1: customer_id must be text, got 17850.0"),
        (s.ITEM_ID, ["I1", "I\x002", "I1"], "line 1: item_id 'I\\x002' holds a control character"),
    ],
)
def test_bounds_refuse_lines_that_could_poison_the_store(column, values, reason):
    with pytest.raises(KizunaInputError, match="nothing was stored") as info:
        check_events(lines(**{column: values}), now=pd.Timestamp("2024-07-10"))
    assert reason in str(info.value)


def test_the_value_ceiling_is_configurable():
    raw = lines(**{s.QUANTITY: [1.0, 2.0, 500.0]})
    assert len(check_events(raw, now=pd.Timestamp("2024-07-10"), max_value=1_000)) == 3
    with pytest.raises(KizunaInputError, match="line 2: quantity 500.0"):
        check_events(raw, now=pd.Timestamp("2024-07-10"), max_value=100)


def test_a_timestamp_beyond_the_clock_tolerance_is_refused():
    now = pd.Timestamp("2024-07-03 09:00")  # line 2 lies 30 minutes ahead
    with pytest.raises(KizunaInputError, match="line 2: timestamp"):
        check_events(lines(), now=now)
    assert len(check_events(lines(), now=now, max_future=pd.Timedelta(hours=1))) == 3


def test_read_count_and_purge_by_customer_and_seq(tmp_path):
    store = EventStore(tmp_path / "events.sqlite")
    store.append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    assert store.count() == 3 and store.count(customer="C1") == 2
    assert store.read(1, upto=2)["seq"].tolist() == [2]
    assert store.read(customer="C2")[s.CUSTOMER_ID].tolist() == ["C2"]
    assert store.purge(2) == 2
    assert store.read()["seq"].tolist() == [3]
    more = lines(**{s.ORDER_ID: ["O7", "O7", "O8"]})
    stored = store.append(check_events(more, now=pd.Timestamp("2024-07-10"))).stored
    assert stored["seq"].tolist() == [4, 5, 6]  # numbers are never reused after a purge


def test_events_cli_counts_exports_and_purges_with_confirmation(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from kizuna.training import cli_snapshot
    from kizuna.training.cli import app

    path = tmp_path / "events.sqlite"
    EventStore(path).append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    runner = CliRunner()
    store = ["--event-store", str(path)]
    out = runner.invoke(app, ["events", "count", "--customer", "C1", "--json", *store])
    assert out.exit_code == 0, out.output
    assert '"count": 2' in out.output
    for suffix in ("csv", "parquet", "jsonl"):
        target = tmp_path / f"ev.{suffix}"
        out = runner.invoke(app, ["events", "export", "--out", str(target), "--after", "1", *store])
        assert out.exit_code == 0, out.output
        assert target.exists()
    assert pd.read_parquet(tmp_path / "ev.parquet")["seq"].tolist() == [2, 3]
    # A job without a terminal (or with --json) is not prompted: it is told to pass --yes.
    for extra in ([], ["--json"]):
        out = runner.invoke(app, ["events", "purge", "--upto", "2", *store, *extra])
        assert isinstance(out.exception, KizunaInputError) and "--yes" in str(out.exception)
        assert "delete" not in out.stdout and EventStore(path).count() == 3
    monkeypatch.setattr(cli_snapshot, "_can_ask", lambda as_json: True)  # at a terminal
    out = runner.invoke(app, ["events", "purge", "--upto", "2", *store], input="n\n")
    assert out.exit_code == 1 and EventStore(path).count() == 3
    out = runner.invoke(app, ["events", "purge", "--upto", "2", "--yes", *store])
    assert out.exit_code == 0 and EventStore(path).count() == 1


def test_events_cli_reads_the_store_the_environment_names_without_a_registry(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    path = tmp_path / "events.sqlite"
    EventStore(path).append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    out = CliRunner().invoke(app, ["events", "count", "--json"])  # nothing trained yet
    assert out.exit_code == 0, out.output
    assert '"count": 3' in out.output


def test_last_seq_is_kept_after_a_purge(tmp_path):
    store = EventStore(tmp_path / "events.sqlite")
    store.append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    store.purge(3)
    assert store.count() == 0 and store.last_seq() == 3
    more = lines(**{s.ORDER_ID: ["O7", "O7", "O8"]})
    stored = store.append(check_events(more, now=pd.Timestamp("2024-07-10"))).stored
    assert stored["seq"].tolist() == [4, 5, 6] and store.last_seq() == 6


def test_events_cli_on_an_experiment_with_no_store_yet_counts_nothing(tmp_path):
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    store = ["--event-store", str(tmp_path / "never-posted.sqlite")]
    out = CliRunner().invoke(app, ["events", "count", "--json", *store])
    assert out.exit_code == 0, out.output
    assert '"count": 0' in out.output and '"last_seq": 0' in out.output
    assert "nothing stored" in out.output
    out = CliRunner().invoke(app, ["events", "list", "-q", *store])
    assert out.exit_code == 0 and out.output.strip() == "no stored lines"
    assert not (tmp_path / "never-posted.sqlite").exists()  # reading creates no file


def test_number_after_raises_the_next_seq_only_upwards(tmp_path):
    store = EventStore(tmp_path / "events.sqlite")
    assert store.number_after(81) == 0  # was empty
    assert store.number_after(10) is None  # never lowered
    stored = store.append(check_events(lines(), now=pd.Timestamp("2024-07-10"))).stored
    assert stored["seq"].tolist() == [82, 83, 84] and store.last_seq() == 84


def test_a_json_lines_export_keeps_microseconds(tmp_path):
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    path = tmp_path / "events.sqlite"
    precise = lines(**{s.TIMESTAMP: pd.to_datetime(["2024-07-02 10:00:00.123456"] * 3)})
    precise[s.ORDER_ID] = ["O1", "O2", "O3"]
    EventStore(path).append(check_events(precise, now=pd.Timestamp("2024-07-10")))
    out = CliRunner().invoke(
        app, ["events", "export", "--out", str(tmp_path / "ev.jsonl"), "--event-store", str(path)]
    )
    assert out.exit_code == 0, out.output
    text = (tmp_path / "ev.jsonl").read_text()
    assert '"2024-07-02T10:00:00.123456"' in text  # posted back, it is a repeat: not counted again


def test_purge_keeps_lines_no_snapshot_includes_unless_forced(tmp_path, monkeypatch):
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KIZUNA_EVENT_STORE", raising=False)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # not another test's store
    client.create_registered_model("kizuna-shop-snapshot")
    version = client.create_model_version(
        "kizuna-shop-snapshot", str(tmp_path), tags={"last_event_seq": "2"}
    )
    client.set_registered_model_alias("kizuna-shop-snapshot", "champion", version.version)
    path = tmp_path / "data" / "events" / "shop.sqlite"
    EventStore(path).append(check_events(lines(), now=pd.Timestamp("2024-07-10")))  # seq 1-3
    runner = CliRunner()
    out = runner.invoke(app, ["events", "purge", "--upto", "3", "--yes"])
    assert out.exit_code != 0 and "in no snapshot yet" in " ".join(str(out.exception).split())
    assert EventStore(path).count() == 3
    out = runner.invoke(app, ["events", "purge", "--upto", "2", "--yes"])  # what it includes
    assert out.exit_code == 0 and EventStore(path).count() == 1
    out = runner.invoke(app, ["events", "purge", "--upto", "3", "--yes", "--force"])
    assert out.exit_code == 0 and EventStore(path).count() == 0


def test_a_refused_request_names_each_lines_field_path():
    from kizuna.serving.event_checks import EventLinesRefused

    bad = lines(**{s.QUANTITY: [1.0, 0.0, 1.0], s.UNIT_PRICE: [2.0, 2.0, -1.0]})
    with pytest.raises(EventLinesRefused) as caught:
        check_events(bad, now=pd.Timestamp("2024-07-10"))
    assert [d["loc"] for d in caught.value.detail] == [
        "body.events[1].quantity",
        "body.events[2].unit_price",
    ]
    assert "line 1: quantity is zero" in str(caught.value)


def test_a_store_deleted_under_the_service_refuses_writes_instead_of_losing_them(tmp_path):
    """The open connection would write into the deleted file: answered stored, gone later."""
    import os

    path = tmp_path / "events.sqlite"
    store = EventStore(path)
    store.append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    for name in os.listdir(tmp_path):
        os.remove(tmp_path / name)
    with pytest.raises(sqlite3.OperationalError, match="deleted or replaced"):
        store.append(check_events(lines(), now=pd.Timestamp("2024-07-10")))
    with pytest.raises(sqlite3.OperationalError, match="deleted or replaced"):
        store.probe()  # /readyz says so too
    store.close()


def test_a_refusal_names_the_bad_lines_of_every_check_at_once():
    # A bound (line 0), the validator (line 1) and the clock (line 2): one 422 names all
    # three, where the client needed three rounds before.
    from kizuna.serving.event_checks import EventLinesRefused

    stamps = pd.to_datetime(["2024-07-02 10:00", "2024-07-02 10:00", "2031-01-01 00:00"])
    bad = lines(**{s.UNIT_PRICE: [2e7, 2.5, 5.0], s.QUANTITY: [1.0, 0.0, -1.0],
                   s.TIMESTAMP: stamps})  # fmt: skip
    with pytest.raises(EventLinesRefused) as caught:
        check_events(bad, now=pd.Timestamp("2024-07-10"))
    assert [d["loc"] for d in caught.value.detail] == [
        "body.events[0].unit_price",
        "body.events[1].quantity",
        "body.events[2].timestamp",
    ]
    assert str(caught.value).startswith("3 of 3 event lines refused")
