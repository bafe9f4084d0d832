"""Which stored /events lines a command reads: its experiment's, and a file alone reads none."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.serving.event_checks import check_events
from kizuna.serving.event_store import EventStore
from kizuna.training.config import DataConfig
from kizuna.training.data import load_transactions, load_transactions_and_events
from kizuna.training.stored_events import event_store_path, legacy_store_note

FILE = pd.DataFrame(
    {
        "customer_id": ["A", "B"],
        "order_id": ["1", "2"],
        "item_id": ["x", "y"],
        "timestamp": ["2024-01-01", "2024-01-02"],
        "quantity": [1, 2],
        "unit_price": [9.5, 1.0],
    }
)


def _event(customer: str) -> pd.DataFrame:
    line = pd.DataFrame(
        {
            "customer_id": [customer],
            "order_id": [f"E-{customer}"],
            "item_id": ["z"],
            "timestamp": [pd.Timestamp("2024-01-03")],
            "quantity": [1.0],
            "unit_price": [2.0],
        }
    )
    return check_events(line, now=pd.Timestamp("2024-02-01"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KIZUNA_EVENT_STORE", raising=False)
    return tmp_path / "data"


def _data(tmp_path: Path, frame: pd.DataFrame = FILE) -> DataConfig:
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    return DataConfig(transactions=path)


def test_each_experiment_reads_its_own_store_and_a_file_alone_reads_none(tmp_path, data_dir):
    for name, customer in (("shop", "S"), ("other", "O")):
        EventStore(data_dir / "events" / f"{name}.sqlite").append(_event(customer))
    EventStore(data_dir / "events.sqlite").append(_event("LEGACY"))
    data = _data(tmp_path)

    shop, last_seq = load_transactions_and_events(data, quiet=True, experiment="shop")
    assert sorted(shop.kept[s.CUSTOMER_ID]) == ["A", "B", "S"] and last_seq == 1
    alone = load_transactions(data, quiet=True)  # `kizuna validate orders.csv`
    assert sorted(alone.kept[s.CUSTOMER_ID]) == ["A", "B"]
    assert alone.report.to_dict()["input_rows"] == 2


def test_the_store_path_explicit_from_the_environment_or_the_experiments(tmp_path, data_dir):
    data = _data(tmp_path)
    assert event_store_path(data, None) is None
    assert event_store_path(data, "shop") == data_dir / "events" / "shop.sqlite"
    named = data.model_copy(update={"events": tmp_path / "mine.sqlite"})
    assert event_store_path(named, None) == tmp_path / "mine.sqlite"


def test_the_environment_names_the_store_of_an_experiment(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "env.sqlite"))
    assert event_store_path(_data(tmp_path), "shop") == tmp_path / "env.sqlite"
    assert event_store_path(_data(tmp_path), None) is None


def test_a_missing_column_fails_even_with_stored_events(tmp_path, data_dir):
    EventStore(data_dir / "events" / "shop.sqlite").append(_event("S"))
    data = _data(tmp_path, FILE.drop(columns=["unit_price"]))
    with pytest.raises(KizunaInputError, match="unit_price") as caught:
        load_transactions(data, quiet=True, experiment="shop")
    assert "lacks required column" in str(caught.value)


def test_an_older_shared_store_gets_one_line_saying_where_events_go_now(tmp_path, data_dir):
    store = data_dir / "events" / "shop.sqlite"
    assert legacy_store_note(data_dir, store) is None  # neither file
    EventStore(data_dir / "events.sqlite").append(_event("LEGACY"))
    note = legacy_store_note(data_dir, store)
    assert note is not None and "no longer read" in note and str(store) in note
    EventStore(store).append(_event("S"))
    assert legacy_store_note(data_dir, store) is None  # the experiment's own store exists


def test_the_old_store_warning_shows_even_with_quiet(tmp_path, data_dir, capsys):
    EventStore(data_dir / "events.sqlite").append(_event("LEGACY"))
    load_transactions(_data(tmp_path), quiet=True, experiment="shop")
    err = capsys.readouterr().err
    assert "warning:" in err and "no longer read" in err


def test_an_older_shared_contact_log_gets_its_own_line(tmp_path, data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "contacts.sqlite").write_bytes(b"")
    store = data_dir / "contacts" / "shop.sqlite"
    note = legacy_store_note(data_dir, store, kind="contact log")
    assert note is not None and note.startswith(
        f"{data_dir / 'contacts.sqlite'} is the contact log"
    )
    assert legacy_store_note(data_dir, data_dir / "events" / "shop.sqlite") is None


def test_validate_reports_the_stored_events_it_counted(tmp_path, data_dir):
    import json

    from typer.testing import CliRunner

    from kizuna.training.cli import app

    EventStore(data_dir / "events" / "shop.sqlite").append(_event("S"))
    orders = _data(tmp_path).transactions
    config = tmp_path / "shop.yaml"
    config.write_text(f"name: shop\ndata:\n  transactions: {orders}\n")
    out = CliRunner().invoke(app, ["validate", "--config", str(config), "--json", "-q"])
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout)
    store = str(data_dir / "events" / "shop.sqlite")
    assert answer["stored_events"] == {"store": store, "lines": 1, "last_seq": 1}
    assert answer["report"]["input_rows"] == 3  # the file's two rows and the stored line
    out = CliRunner().invoke(app, ["validate", "--config", str(config)])
    assert "input includes 1 stored purchase events" in " ".join(out.output.split())
    alone = CliRunner().invoke(app, ["validate", str(orders), "--json", "-q"])
    assert json.loads(alone.stdout)["stored_events"] is None


def test_a_stored_event_the_export_also_has_is_counted_once(tmp_path, data_dir):
    export = FILE.assign(description=["red mug", "blue mug"])  # columns events do not have
    posted = export.iloc[[1]][["customer_id", "order_id", "item_id", "quantity", "unit_price"]]
    posted = posted.assign(timestamp=pd.to_datetime(["2024-01-02"]), quantity=2.0)
    EventStore(data_dir / "events" / "shop.sqlite").append(
        check_events(posted.reset_index(drop=True), now=pd.Timestamp("2024-02-01"))
    )
    EventStore(data_dir / "events" / "shop.sqlite").append(_event("S"))  # a new purchase
    shop = load_transactions(_data(tmp_path, export), quiet=True, experiment="shop")
    assert shop.report.to_dict()["set_aside"] == {"duplicate_row": 1}
    assert sorted(shop.kept[s.CUSTOMER_ID]) == ["A", "B", "S"]
