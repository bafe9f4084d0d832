"""The recommendation log: what each response showed, and the purchases that came back with it.

Every ``/recommend``, ``/similar_items`` and ``/next_best_offer`` answer gets a
``recommendation_id``; one row per answer records what was shown (compactly:
item or offer ids joined by ``|``), where, to whom and by which model versions.
``/events`` lines may carry the id back; those lines are recorded as conversions.
Both tables live in the contact log's SQLite file (a ``.csv`` contact log gets an
SQLite file next to it), in WAL mode, each write one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

SHOWN = "recommendations"
CONVERSIONS = "recommendation_conversions"
SEP = "|"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")

_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {SHOWN} (recommendation_id TEXT PRIMARY KEY, shown_at TEXT NOT NULL, "
    "placement TEXT NOT NULL, customer_id TEXT, anchor_item TEXT, offer_id TEXT, grp TEXT, "
    "campaign_id TEXT, channel TEXT, model_version TEXT NOT NULL, items TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {CONVERSIONS} (recommendation_id TEXT NOT NULL, customer_id TEXT, "
    "order_id TEXT, item_id TEXT, timestamp TEXT NOT NULL, revenue REAL NOT NULL, "
    "PRIMARY KEY (recommendation_id, order_id, item_id))",
)


def store_path(contact_log: str | Path) -> Path:
    """The SQLite file that holds the recommendation log, given the contact log's path."""
    path = Path(contact_log)
    return path if path.suffix.lower() in SQLITE_SUFFIXES else path.with_suffix(".sqlite")


def new_id() -> str:
    """A fresh recommendation id (32 hex characters)."""
    return uuid.uuid4().hex


def version_label(versions: Mapping[str, Any], kinds: Iterable[str]) -> str:
    """``"recommender=3"`` or ``"churn=2,ltv=4"``: the versions behind an answer."""
    parts = [f"{k}={versions[k]}" for k in kinds if versions.get(k) is not None]
    return ",".join(parts) or "none"


class RecommendationLog:
    """Append-only writer and reader of the two tables (thread-safe; one connection per call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.commit()
            self._ready = True
        return conn

    def record_shown(self, row: Mapping[str, Any]) -> None:
        """One answer: ``recommendation_id``, ``placement``, ``model_version``, ``items`` (ids) and
        optionally ``customer_id``, ``anchor_item``, ``offer_id``, ``grp``, ``campaign_id``, ``channel``."""
        cols = (
            "recommendation_id", "shown_at", "placement", "customer_id", "anchor_item", "offer_id",
            "grp", "campaign_id", "channel", "model_version", "items",
        )  # fmt: skip
        values = dict(row)
        values.setdefault("shown_at", pd.Timestamp.now().isoformat())
        values["items"] = SEP.join(str(i) for i in values.get("items", []))
        with self._lock, self._connect() as conn:
            conn.execute(
                f"INSERT INTO {SHOWN} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [values.get(c) for c in cols],
            )

    def record_conversions(self, lines: pd.DataFrame) -> int:
        """Purchase lines that carried a ``recommendation_id``; repeats are ignored. Returns rows added."""
        rows = lines.loc[lines["recommendation_id"].notna()]
        if rows.empty:
            return 0
        data = [
            (str(r.recommendation_id), str(r.customer_id), str(r.order_id), str(r.item_id),
             pd.Timestamp(r.timestamp).isoformat(), float(r.quantity) * float(r.unit_price))
            for r in rows.itertuples(index=False)
        ]  # fmt: skip
        with self._lock, self._connect() as conn:
            before = conn.total_changes
            conn.executemany(f"INSERT OR IGNORE INTO {CONVERSIONS} VALUES (?, ?, ?, ?, ?, ?)", data)
            return conn.total_changes - before

    def read(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(shown, conversions) as frames; empty frames when the file does not exist."""
        if not self.path.exists():
            return pd.DataFrame(), pd.DataFrame()
        with self._connect() as conn:
            shown = pd.read_sql_query(f"SELECT * FROM {SHOWN}", conn)
            conversions = pd.read_sql_query(f"SELECT * FROM {CONVERSIONS}", conn)
        return shown, conversions
