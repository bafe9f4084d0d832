"""The customer snapshot on tiny hand-made data: round trip, exactly-once catch-up, id forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.interactions import build_interactions
from kizuna.features.pipeline import customer_features
from kizuna.features.validate import validate_transactions
from kizuna.models.bundles import ChampionModels
from kizuna.serving.event_checks import check_events
from kizuna.serving.event_store import EventStore
from kizuna.serving.live import Live, apply_stored_events, load_served
from kizuna.serving.snapshot import load_snapshot, read_manifest
from kizuna.training.artifacts import save_champions
from kizuna.training.snapshot_build import write_snapshot

# Four lines, three customers, three items; the last line is on 2024-01-20, so as_of = 01-21.
LINES = pd.DataFrame(
    {
        s.CUSTOMER_ID: ["C1", "C1", "C2", "C3"],
        s.ORDER_ID: ["O1", "O2", "O3", "O4"],
        s.ITEM_ID: ["I1", "I2", "I1", "I3"],
        s.TIMESTAMP: pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-05", "2024-01-20"]),
        s.QUANTITY: [2.0, 1.0, 1.0, 4.0],
        s.UNIT_PRICE: [5.0, 3.0, 5.0, 1.0],
    }
)
NO_MODELS = ChampionModels(recommender=None, churn=None, ltv=None)


def event(customer: str, order: str, when: str, qty: float = 1.0, price: float = 2.0):
    raw = pd.DataFrame(
        {
            s.CUSTOMER_ID: [customer],
            s.ORDER_ID: [order],
            s.ITEM_ID: ["I2"],
            s.TIMESTAMP: [pd.Timestamp(when)],
            s.QUANTITY: [qty],
            s.UNIT_PRICE: [price],
        }
    )
    return check_events(raw, now=pd.Timestamp("2024-02-01"))


def model_folder(tmp_path, tx: pd.DataFrame, *, last_event_seq: int = 0):
    folder = tmp_path / "models"
    save_champions(NO_MODELS, folder)
    write_snapshot(folder / "snapshot", NO_MODELS, tx, last_event_seq=last_event_seq)
    return folder


def test_snapshot_round_trip_gives_the_batch_features_and_counts(tmp_path):
    tx = validate_transactions(LINES).kept
    folder = model_folder(tmp_path, tx)
    manifest = read_manifest(folder / "snapshot")
    assert manifest["as_of"] == "2024-01-21 00:00:00"
    assert (manifest["customers"], manifest["items"], manifest["lines"]) == (3, 3, 4)
    st = load_snapshot(folder / "snapshot", NO_MODELS)
    as_of = pd.Timestamp("2024-01-21")
    expected = customer_features(tx, as_of)
    pd.testing.assert_frame_equal(st.features, expected, check_index_type=False)
    assert list(st.features.index) == ["C1", "C2", "C3"]
    assert st.features.loc["C1", "monetary_total"] == pytest.approx(13.0)  # 2*5 + 1*3
    assert list(st.catalogue.item_ids) == ["I1", "I2", "I3"]
    np.testing.assert_array_equal(st.catalogue.recent_buyers, [2, 1, 1])  # C1, C2 bought I1
    counts = build_interactions(
        tx, as_of, weighting="count", user_ids=st.features.index, item_ids=st.catalogue.item_ids
    ).matrix
    np.testing.assert_array_equal(st.history.toarray(), counts.toarray())  # count weighting
    assert st.log.n_lines == 4
    assert list(st.customer_rows("C1")[s.ORDER_ID]) == ["O1", "O2"]
    assert st.customer_rows("nobody").empty


def test_events_before_the_snapshot_seq_are_not_applied_again(tmp_path):
    store = EventStore(tmp_path / "events.sqlite")
    store.append(event("C2", "E1", "2024-01-15"))  # seq 1: in the snapshot
    base = validate_transactions(LINES).kept
    included = validate_transactions(
        pd.concat([LINES, store.read().drop(columns="seq")], ignore_index=True)
    ).kept
    folder = model_folder(tmp_path, included, last_event_seq=1)
    store.append(event("C2", "E2", "2024-01-16", qty=3.0))  # seq 2: after it
    served = load_served(str(folder), store=store)
    st = served.state
    assert st.last_event_seq == 2 and st.events_applied == 1
    # 5 (file) + 2 (seq 1, via the snapshot) + 6 (seq 2, applied once)
    assert st.features.loc["C2", "monetary_total"] == pytest.approx(13.0)
    assert apply_stored_events(served, store) == 0  # nothing is applied twice
    assert st.features.loc["C2", "monetary_total"] == pytest.approx(13.0)
    # A reload reads the snapshot again and applies seq 2 once more, on the fresh state.
    live = Live(str(folder), store=store)
    assert live.load().reloaded and live.load().reloaded
    assert live.served.state.features.loc["C2", "monetary_total"] == pytest.approx(13.0)
    assert live.served.state.n_customers == 3
    assert len(base) == 4


def test_lines_purged_after_the_snapshot_are_named_in_the_log(tmp_path, caplog):
    # `kizuna events purge`, then an older snapshot promoted: lines 2-3 are in neither.
    store = EventStore(tmp_path / "events.sqlite")
    for i, day in enumerate(("2024-01-15", "2024-01-16", "2024-01-17", "2024-01-18")):
        store.append(event("C2", f"E{i}", day))  # seq 1..4
    included = validate_transactions(
        pd.concat([LINES, store.read(after=0).drop(columns="seq").iloc[:1]], ignore_index=True)
    ).kept
    folder = model_folder(tmp_path, included, last_event_seq=1)
    store.purge(3)
    with caplog.at_level("WARNING", logger="bentoml.kizuna"):
        served = load_served(str(folder), store=store)
    assert served.state.events_applied == 1  # seq 4
    (line,) = [r.getMessage() for r in caplog.records if "purged" in r.getMessage()]
    assert "no longer holds lines 2 to 3" in line and "(up to 1)" in line
    caplog.clear()
    with caplog.at_level("WARNING", logger="bentoml.kizuna"):
        load_served(str(model_folder(tmp_path / "b", included, last_event_seq=3)), store=store)
    assert not [r for r in caplog.records if "purged" in r.getMessage()]  # nothing missing


def test_a_new_customer_from_events_joins_and_keeps_its_id(tmp_path):
    folder = model_folder(tmp_path, validate_transactions(LINES).kept)
    store = EventStore(tmp_path / "events.sqlite")
    store.append(event("00042", "N1", "2024-01-18"))
    st = load_served(str(folder), store=store).state
    assert st.n_customers == 4
    assert "00042" in st.features.index and "42" not in st.features.index
    assert st.features.loc["00042", "monetary_total"] == pytest.approx(2.0)
    assert st.history_rows(st.positions(["00042"])).sum() > 0


def test_online_retail_float_ids_and_stored_text_ids_stay_one_customer(tmp_path, monkeypatch):
    """The README's bug: after /events, ids came back as "17850.0" and customers doubled."""
    from kizuna.training.config import DataConfig
    from kizuna.training.data import load_transactions_and_events

    raw = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536366"],
            "StockCode": ["85123A", "71053"],
            "Description": ["HEART", "LANTERN"],
            "Quantity": [6, 2],
            "InvoiceDate": ["2011-12-01 08:26:00", "2011-12-02 09:00:00"],
            "UnitPrice": [2.55, 3.39],
            "CustomerID": [17850.0, 13047.0],
            "Country": ["United Kingdom", "United Kingdom"],
        }
    )
    raw.to_csv(tmp_path / "retail.csv", index=False)
    store = EventStore(tmp_path / "events.sqlite")
    line = event("17850", "E-1", "2011-12-03")
    store.append(line.assign(**{s.ITEM_ID: "85123A"}))
    data = DataConfig(
        transactions=tmp_path / "retail.csv",
        format="online-retail",
        events=tmp_path / "events.sqlite",
    )
    validated, last_seq = load_transactions_and_events(data, quiet=True)
    kept = validated.kept
    assert last_seq == 1
    assert sorted(pd.unique(kept[s.CUSTOMER_ID].astype(str))) == ["13047", "17850"]
    assert len(kept) == 3  # two file lines and the event, once


@pytest.mark.dataset
def test_online_retail_events_reload_restart_and_rebuild_keep_every_customer(
    online_retail_path, tmp_path
):
    """The issue's case: the README's /events line, then a reload, a restart and a rebuild."""
    from kizuna.training.config import DataConfig
    from kizuna.training.data import load_tables, load_transactions_and_events

    data = DataConfig(
        transactions=online_retail_path, format="online-retail", events=tmp_path / "ev.sqlite"
    )
    validated, seq = load_transactions_and_events(data, quiet=True)
    folder = tmp_path / "models"
    save_champions(NO_MODELS, folder)
    write_snapshot(folder / "snapshot", NO_MODELS, validated.kept, last_event_seq=seq)
    store = EventStore(tmp_path / "ev.sqlite")
    live = Live(str(folder), store=store)
    assert live.load().reloaded
    before = live.served.state.features.copy()
    n = len(before)
    readme_line = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["12347"],
            s.ORDER_ID: ["A1"],
            s.ITEM_ID: ["22423"],
            s.TIMESTAMP: [pd.Timestamp("2011-12-10T10:00:00")],
            s.QUANTITY: [2.0],
            s.UNIT_PRICE: [12.75],
        }
    )
    live.ingest(check_events(readme_line))
    expected = before.loc["12347", "monetary_total"] + 25.5
    others = before.drop(index="12347")[["frequency", "monetary_total"]]

    def check(state) -> None:
        f = state.features
        assert len(f) == n and not any(str(c).endswith(".0") for c in f.index)
        assert f.loc["12347", "monetary_total"] == pytest.approx(expected)
        pd.testing.assert_frame_equal(f.drop(index="12347")[others.columns], others)

    check(live.served.state)
    assert live.load().reloaded  # /reload
    check(live.served.state)
    restarted = Live(str(folder), store=EventStore(tmp_path / "ev.sqlite"))  # a restart
    assert restarted.load().reloaded
    check(restarted.served.state)
    # `kizuna train` / `kizuna snapshot` read the same store once: still one customer 12347.
    validated, seq = load_transactions_and_events(data, quiet=True)
    assert seq == 1
    write_snapshot(folder / "snapshot", NO_MODELS, validated.kept, last_event_seq=seq)
    rebuilt = Live(str(folder), store=EventStore(tmp_path / "ev.sqlite"))
    assert rebuilt.load().reloaded
    assert rebuilt.served.state.events_applied == 0
    assert len(rebuilt.served.state.features) == n
    assert load_tables(data) == (None, None)
