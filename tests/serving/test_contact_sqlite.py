"""The SQLite contact log read per customer with a kept connection: same rows as reading it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pandas as pd

from kizuna.serving.attribution import RecommendationLog, new_id
from kizuna.serving.contact_index import ContactLog
from kizuna.serving.contact_sqlite import SqliteContactReader
from kizuna.serving.contact_store import append_contacts, read_contact_log
from tests.serving.contact_data import LOG, check_small_log, contacts, same_as_reading_the_file


def test_a_customers_contacts_in_table_order_since_a_time(tmp_path: Path) -> None:
    path = tmp_path / "contacts.sqlite"
    append_contacts(path, LOG)
    check_small_log(SqliteContactReader(path), path)


def test_a_missing_file_or_table_is_an_empty_log(tmp_path: Path) -> None:
    path = tmp_path / "contacts.sqlite"
    reader = SqliteContactReader(path)
    pd.testing.assert_frame_equal(reader.contacts("A"), read_contact_log(path, customer="A"))
    sqlite3.connect(path).close()  # a file without the table
    pd.testing.assert_frame_equal(reader.contacts("A"), read_contact_log(path, customer="A"))
    append_contacts(path, LOG)
    assert reader.contacts("A")["offer_id"].tolist() == ["winback", "cross_sell", "upsell"]


def test_rows_appended_by_another_writer_are_read(tmp_path: Path) -> None:
    path = tmp_path / "contacts.db"
    append_contacts(path, LOG)
    log = ContactLog(path)
    assert len(log.read("C")) == 1
    append_contacts(path, contacts(("C", "upsell", "2025-03-10 10:00", "app", None)))
    assert log.append(contacts(("C", "winback", "2025-03-11 10:00", "web", "x"))) == 1
    assert log.read("C")["offer_id"].tolist() == ["winback", "upsell", "winback"]
    same_as_reading_the_file(SqliteContactReader(path), path, "ABC")


def test_a_replaced_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "contacts.sqlite"
    append_contacts(path, LOG)
    reader = SqliteContactReader(path)
    assert len(reader.contacts("A")) == 3
    other = tmp_path / "other.sqlite"
    append_contacts(other, contacts(("A", "upsell", "2025-04-01 10:00", "email", None)))
    other.replace(path)
    assert reader.contacts("A")["offer_id"].tolist() == ["upsell"]
    path.unlink()
    assert len(reader.contacts("A")) == 0


def test_reads_beside_the_recommendation_log_in_wal_mode_and_from_threads(tmp_path: Path) -> None:
    # The service keeps its recommendation log in the same file (WAL mode) and reads
    # contacts from worker threads.
    path = tmp_path / "contacts.sqlite"
    append_contacts(path, LOG)
    shown = RecommendationLog(path)
    shown.record_shown({"recommendation_id": new_id(), "placement": "recommend",
                        "model_version": "none", "items": ["x"]})  # fmt: skip
    reader = SqliteContactReader(path)
    expected = read_contact_log(path, customer="A")
    results: list[pd.DataFrame] = []

    def read() -> None:
        for _ in range(20):
            results.append(reader.contacts("A"))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shown.close()
    assert len(results) == 80
    for got in results:
        pd.testing.assert_frame_equal(got, expected)
