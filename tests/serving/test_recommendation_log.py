"""The recommendation log: answers queued and committed, conversions kept once."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from kizuna.serving.attribution import RecommendationLog, store_path, version_label


def test_store_sits_with_the_contact_log(tmp_path: Path) -> None:
    assert store_path(tmp_path / "contacts.sqlite") == tmp_path / "contacts.sqlite"
    assert store_path(tmp_path / "contacts.csv") == tmp_path / "contacts.sqlite"
    assert (
        version_label({"recommender": 3, "churn": None}, ("churn", "recommender"))
        == "recommender=3"
    )


def test_submitted_answers_reach_the_file_and_conversions_count_once(tmp_path: Path) -> None:
    log = RecommendationLog(tmp_path / "c.sqlite")
    log.submit({"recommendation_id": "r1", "placement": "recommend", "model_version": "recommender=1",
                "items": ["i1", "i2"], "customer_id": "a"})  # fmt: skip
    log.submit({"recommendation_id": "r2", "placement": "similar_items", "model_version": "recommender=1",
                "items": [], "anchor_item": "i1"})  # fmt: skip
    deadline = time.monotonic() + 5
    shown = pd.DataFrame()
    while time.monotonic() < deadline:  # the writer thread commits within FLUSH_SECONDS
        shown = RecommendationLog(tmp_path / "c.sqlite").read()[0]
        if len(shown) == 2:
            break
        time.sleep(0.05)
    assert shown.set_index("recommendation_id").loc["r1", "items"] == "i1|i2"
    assert shown.set_index("recommendation_id").loc["r2", "anchor_item"] == "i1"
    lines = pd.DataFrame({"recommendation_id": ["r1", None, "r1"], "customer_id": ["a", "b", "a"],
                          "order_id": ["o1", "o2", "o1"], "item_id": ["i1", "i9", "i1"],
                          "timestamp": pd.to_datetime(["2024-01-01"] * 3), "quantity": [2.0, 1.0, 2.0],
                          "unit_price": [5.0, 1.0, 5.0]})  # fmt: skip
    assert (
        log.record_conversions(lines) == 1
    )  # the unattributed line is not a conversion; a retry is ignored
    assert log.record_conversions(lines) == 0
    conversions = log.read()[1]
    assert conversions["revenue"].tolist() == [10.0]
    log.close()


def test_a_batch_the_store_refuses_is_kept_and_written_later(tmp_path: Path, monkeypatch) -> None:
    """A locked or full store delays answers; it does not lose them."""
    import sqlite3

    log = RecommendationLog(tmp_path / "c.sqlite")
    original = log.record_shown
    calls = []

    def flaky(*rows):
        calls.append(len(rows))
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return original(*rows)

    monkeypatch.setattr(log, "record_shown", flaky)
    log.submit({"recommendation_id": "r1", "placement": "recommend", "model_version": "v",
                "items": ["i1"]})  # fmt: skip
    deadline = time.monotonic() + 5
    shown = pd.DataFrame()
    while time.monotonic() < deadline and len(shown) < 1:
        time.sleep(0.05)
        shown = RecommendationLog(tmp_path / "c.sqlite").read()[0]
    assert calls[0] == 1 and len(calls) >= 2  # refused once, then tried again
    assert shown["recommendation_id"].tolist() == ["r1"]
    log.close()
