"""The recommendation log: what each response showed, and the purchases that came back with it.

Every ``/recommend``, ``/similar_items`` and ``/next_best_offer`` answer gets a
``recommendation_id``; one row per answer records what was shown (compactly:
item or offer ids joined by ``|``), where, to whom and by which model versions.
``/events`` lines may carry the id back; those lines are recorded as conversions.
Both tables live in the contact log's SQLite file (a ``.csv`` contact log gets an
SQLite file next to it), in WAL mode, each write one transaction.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features.timestamps import utc_now

SHOWN = "recommendations"
CONVERSIONS = "recommendation_conversions"
SEP = "|"
#: The background writer commits queued answers this often.
FLUSH_SECONDS = 0.05
#: Longest wait between two tries of a batch the store refused (a locked or full file).
RETRY_SECONDS = 5.0
#: Answers kept for a retry while the store refuses them; older ones are dropped past it.
MAX_PENDING = 100_000
logger = logging.getLogger("bentoml.kizuna")
_SHOWN_COLUMNS = (
    "recommendation_id", "shown_at", "placement", "customer_id", "anchor_item", "offer_id",
    "grp", "campaign_id", "channel", "model_version", "items",
)  # fmt: skip
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
    """The SQLite file that holds the recommendation log, given the contact log's path.

    Parameters
    ----------
    contact_log
        The contact log's path.

    Returns
    -------
    pathlib.Path
    """
    path = Path(contact_log)
    return path if path.suffix.lower() in SQLITE_SUFFIXES else path.with_suffix(".sqlite")


def new_id() -> str:
    """A fresh recommendation id (32 hex characters).

    Returns
    -------
    str
    """
    return uuid.uuid4().hex


def version_label(versions: Mapping[str, Any], kinds: Iterable[str]) -> str:
    """``"recommender=3"`` or ``"churn=2,ltv=4"``: the versions behind an answer.

    Parameters
    ----------
    versions
        Model kind -> version.
    kinds
        The kinds behind the answer.

    Returns
    -------
    str
    """
    parts = [f"{k}={versions[k]}" for k in kinds if versions.get(k) is not None]
    return ",".join(parts) or "none"


class RecommendationLog:
    """Append-only writer and reader of the two tables (thread-safe).

    One connection is kept open and shared under a lock; ``synchronous=NORMAL``
    in WAL mode: a commit survives a crash of the service (not a power cut),
    and an answer costs a fraction of a millisecond instead of an fsync.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            try:
                _set_up(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def record_shown(self, *rows: Mapping[str, Any]) -> None:
        """Answers, in one transaction: ``recommendation_id``, ``placement``, ``model_version``,
        ``items`` (ids) and optionally ``customer_id``, ``anchor_item``, ``offer_id``, ``grp``,
        ``campaign_id``, ``channel``, ``shown_at`` (default now).

        Parameters
        ----------
        *rows
            One mapping per answer, with the fields above.
        """
        now = utc_now().isoformat()
        values = [
            [
                SEP.join(str(i) for i in row.get("items", [])) if c == "items"
                else row.get(c, now) if c == "shown_at" else row.get(c)
                for c in _SHOWN_COLUMNS
            ]
            for row in rows
        ]  # fmt: skip
        with self._lock, self._connect() as conn:  # one transaction
            conn.executemany(
                f"INSERT INTO {SHOWN} ({', '.join(_SHOWN_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_SHOWN_COLUMNS))})",
                values,
            )

    def submit(self, row: Mapping[str, Any]) -> None:
        """Queue one answer for the background writer (microseconds; for the event loop).

        The writer thread commits what is queued every ``FLUSH_SECONDS``; an
        answer is in the log at most that long after it was given (lost only if
        the process dies in between).

        Parameters
        ----------
        row
            One answer, as for :meth:`record_shown`.
        """
        self._queue.put({"shown_at": utc_now().isoformat(), **row})
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._drain, name="kizuna-reclog", daemon=True
                    )
                    self._writer.start()

    def flush(self) -> None:
        """Write everything queued so far (the writer does it by itself; for tests and shutdown)."""
        batch = []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if batch:
            self.record_shown(*batch)

    def _drain(self) -> None:
        pending: list[dict[str, Any]] = []
        wait = FLUSH_SECONDS
        while True:
            if not pending:
                pending.append(self._queue.get())
            time.sleep(wait)  # let a burst gather into one transaction
            while True:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.record_shown(*pending)
            except (sqlite3.Error, OSError) as exc:  # a store fault: kept and tried again
                if len(pending) > MAX_PENDING:
                    logger.warning("recommendation log unavailable (%s): %d answers dropped",
                                   exc, len(pending) - MAX_PENDING)  # fmt: skip
                    pending = pending[-MAX_PENDING:]
                else:
                    logger.warning("writing %d recommendation-log rows failed (%s); retrying",
                                   len(pending), exc)  # fmt: skip
                wait = min(2 * wait, RETRY_SECONDS)
                continue
            except Exception:  # noqa: BLE001 - the log must never stop the writer
                logger.exception("writing %d recommendation-log rows failed", len(pending))
            pending, wait = [], FLUSH_SECONDS

    def record_conversions(self, lines: pd.DataFrame) -> int:
        """Purchase lines that carried a ``recommendation_id``; repeats are ignored. Returns rows added.

        Parameters
        ----------
        lines
            Purchase lines, shape (n, k), with a ``recommendation_id`` column.

        Returns
        -------
        int
            Rows added.
        """
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
        """(shown, conversions) as frames; empty frames when the file does not exist.

        Returns
        -------
        shown, conversions : pandas.DataFrame
            One row per answer shown, one per converting purchase line.
        """
        if not self.path.exists():
            return pd.DataFrame(), pd.DataFrame()
        with self._lock:
            conn = self._connect()
            shown = pd.read_sql_query(f"SELECT * FROM {SHOWN}", conn)
            conversions = pd.read_sql_query(f"SELECT * FROM {CONVERSIONS}", conn)
        return shown, conversions


def _set_up(conn: sqlite3.Connection, *, tries: int = 100) -> None:
    """WAL mode and the tables, waiting out another connection that sets up the same file.

    Switching a new file to WAL takes an exclusive lock that SQLite does not
    wait for (no busy timeout), so two processes opening the log at once
    (the service and ``kizuna attribution``) would see "database is locked".
    """
    for attempt in range(tries):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.commit()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            conn.rollback()
            time.sleep(0.02)
