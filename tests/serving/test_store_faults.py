"""Event-store faults: full disk, read-only file, missing folder -> a named cause, then recovery.

The store is a real SQLite file. A full disk is simulated with SQLite's
``max_page_count``, a read-only file with the immutable attribute (as root)
or mode 0444 (as anyone else), a missing folder with a regular file where
the folder should be.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from kizuna.serving.event_checks import check_events
from kizuna.serving.event_store import EventStore
from kizuna.serving.store_guard import GuardedStore, StoreUnavailable


def lines(order: str, n: int = 1) -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "order_id": [order] * n,
            "item_id": ["i" * 150] * n,  # long ids fill pages quickly
            "timestamp": [pd.Timestamp("2024-06-30 12:00")] * n,
            "quantity": [1.0] * n,
            "unit_price": [2.0] * n,
        }
    )
    return check_events(raw, now=pd.Timestamp("2024-07-01"))


def capped(path: Path, pages: int):
    def open_store() -> EventStore:
        store = EventStore(path)
        # Simulates a full disk: SQLite refuses to grow the file past `pages` pages.
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        return store

    return open_store


def test_a_full_store_names_the_cause_and_writes_resume(tmp_path):
    path = tmp_path / "events.sqlite"
    EventStore(path).close()
    start = os.path.getsize(path) // 4096 + 2
    store = GuardedStore(capped(path, start), path, retry_seconds=0)
    with pytest.raises(StoreUnavailable) as info:
        for i in range(200):
            store.append(lines(f"o{i}", 20))
    assert str(info.value) == "event store unavailable: database or disk is full"
    assert store.check() == "database or disk is full"
    stored = EventStore(path).last_seq()
    store._open = capped(path, 10_000)  # the disk has room again
    assert store.check() is None
    assert len(store.append(lines("after", 1)).stored) == 1
    assert EventStore(path).last_seq() == stored + 1


def test_a_missing_folder_is_a_fault_until_it_exists(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be")
    path = blocker / "events.sqlite"
    store = GuardedStore(lambda: EventStore(path), path, retry_seconds=0)  # does not raise
    assert store.read() is None and store.changed() is False
    with pytest.raises(StoreUnavailable, match="Not a directory|File exists"):
        store.append(lines("o1"))
    blocker.unlink()
    assert store.check() is None
    assert len(store.append(lines("o1")).stored) == 1


def make_read_only(path: Path) -> bool:
    if os.geteuid() != 0:
        path.chmod(0o444)
        return True
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def make_writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o644)


def test_a_read_only_file_is_a_fault_until_it_is_writable(tmp_path):
    path = tmp_path / "events.sqlite"
    first = EventStore(path)
    first.append(lines("before"))
    first.close()
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    if not make_read_only(path):
        pytest.skip("cannot make a file read-only here (no chattr)")
    try:
        store = GuardedStore(lambda: EventStore(path), path, retry_seconds=0)
        with pytest.raises(StoreUnavailable, match="readonly|read-only|Operation not permitted"):
            store.append(lines("o1"))
        assert store.check() is not None
    finally:
        make_writable(path)
    time.sleep(0.01)
    assert store.check() is None
    assert len(store.append(lines("o1")).stored) == 1


@pytest.mark.integration
def test_the_service_reports_store_faults_and_recovers(model_set, tmp_path):
    """A bad store path: /livez answers, /readyz and /events say why; then everything resumes."""
    import shutil

    import httpx

    from tests.serving.loopback import start_server

    shutil.copytree(model_set.folder, tmp_path / "models")
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store's folder should be")
    path = blocker / "events.sqlite"
    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(tmp_path / "models"),
            "KIZUNA_EVENT_STORE": str(path),
            "KIZUNA_CONTACT_LOG": str(blocker / "contacts.sqlite"),
        },
        tmp_path / "server.log",
        probe="/livez",
    )
    tx = model_set.transactions
    known = [str(c) for c in tx.loc[tx["quantity"] > 0, "customer_id"].value_counts().index[:60]]
    event = {
        "customer_id": "FAULT-1",
        "order_id": "F1",
        "item_id": "I00001",
        "timestamp": "2024-06-30T12:00:00",
        "quantity": 1,
        "unit_price": 2.0,
    }
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            deadline = time.monotonic() + 60
            while "event store" not in c.get("/readyz").text and time.monotonic() < deadline:
                time.sleep(0.3)
            ready = c.get("/readyz")
            assert ready.status_code == 503 and "event store unavailable" in ready.json()["reason"]
            assert c.get("/livez").status_code == 200
            refused = c.post("/events", json={"events": [event]})
            assert refused.status_code == 503
            error = refused.json()["error"]
            assert error.startswith("event store unavailable: ") and str(blocker) in error
            assert c.post("/recommend", json={"customer_id": "FAULT-1"}).status_code == 200
            for cid in known:  # the first customer who gets an offer is to be recorded
                offer = c.post("/next_best_offer", json={"customer_id": cid, "record": True})
                if offer.json().get("decisions", [{}])[0].get("offer_id") != "no_offer":
                    break
            assert offer.status_code == 503, offer.text
            assert offer.json()["error"].startswith("contact log unavailable: ")

            blocker.unlink()  # the fault clears
            time.sleep(1.1)
            assert c.get("/readyz").status_code == 200
            stored = c.post("/events", json={"events": [event]})
            assert stored.status_code == 200 and stored.json()["stored"] == 1

        # A store file that is read-only when the server starts.
        srv.stop()
        for extra in ("-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        if make_read_only(path):
            try:
                srv.start(probe="/livez")
                with httpx.Client(base_url=srv.url, timeout=30) as c:
                    again = c.post("/events", json={"events": [{**event, "order_id": "F2"}]})
                    assert again.status_code == 503, again.text
                    assert "readonly" in again.json()["error"]
                    deadline = time.monotonic() + 60
                    while (
                        "event store" not in c.get("/readyz").text and time.monotonic() < deadline
                    ):
                        time.sleep(0.3)  # the models load meanwhile
                    assert "readonly" in c.get("/readyz").json()["reason"]
                    make_writable(path)
                    time.sleep(1.1)
                    assert c.get("/readyz").status_code == 200
                    again = c.post("/events", json={"events": [{**event, "order_id": "F2"}]})
                    assert again.status_code == 200, again.text
            finally:
                make_writable(path)
        log = srv.log.read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in log
    finally:
        srv.stop()
        make_writable(path) if path.exists() else None


def test_a_store_that_cannot_open_leaks_no_file_descriptors(tmp_path, monkeypatch):
    import psutil

    from kizuna.serving import event_store

    monkeypatch.setattr(event_store, "_SCHEMA", "CREATE TABLE broken (")  # fails after connect
    guard = GuardedStore(lambda: EventStore(tmp_path / "ev.sqlite"), tmp_path, retry_seconds=0)
    before = psutil.Process().num_fds()
    for _ in range(5):
        with pytest.raises(StoreUnavailable):
            guard.append(None)
    assert psutil.Process().num_fds() == before


class _Stuck:
    """A store whose first call fails on a lock while a second call waits on the same
    connection; closing it takes long (as closing under SQLite's busy wait does)."""

    def __init__(self) -> None:
        import threading

        self.first = threading.Event()
        self.closed = threading.Event()
        self.release = threading.Event()  # the test lets the slow close finish

    def append(self, lines):
        import sqlite3

        if lines == "first":
            self.first.set()
            raise sqlite3.OperationalError("database is locked")
        self.closed.wait(5)  # queued behind the first, then finds the connection closed
        raise sqlite3.ProgrammingError("Cannot operate on a closed database.")

    def close(self):
        self.release.wait(10)
        self.closed.set()


def test_a_call_queued_on_a_failed_connection_reports_the_first_cause_and_nobody_waits():
    import threading

    stuck = _Stuck()
    guard = GuardedStore(lambda: stuck, "ev.sqlite", retry_seconds=60)
    errors: list[str] = []

    def second() -> None:
        try:
            guard.append("second")
        except StoreUnavailable as exc:
            errors.append(exc.cause)

    waiting = threading.Thread(target=second)
    waiting.start()
    with pytest.raises(StoreUnavailable, match="database is locked"):
        guard.append("first")
    # the slow close runs on a thread of its own: the failure came back before it ended
    assert not stuck.closed.is_set()
    assert guard.check() == "database is locked"  # /readyz does not wait on the close either
    stuck.release.set()
    waiting.join(10)
    assert errors == ["database is locked"]
