"""The embedded purchase-event store: one SQLite file, appended to durably.

Lines arrive through the service's ``/events`` endpoint in the transactions
contract. Each request is validated as a whole first (pydantic types, then
:func:`features.validate.validate_transactions`); only a request whose every
line is kept is written, in one transaction, so a malformed request writes
nothing. The file is in WAL mode with ``synchronous=FULL``: when ``append``
returns, the lines survive a crash of the process or the machine.

An exact repeat of a stored line (same customer, order, item, timestamp,
quantity and price) is ignored, so a client may retry a request safely.

Every line gets a sequence number (``seq``). A snapshot records the last
``seq`` it includes; the service applies only later lines, and ``kizuna
train`` / ``kizuna snapshot`` read the store through :func:`read_events`, so
each line is counted exactly once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s

SEQ = "seq"
EVENT_COLUMNS = (
    s.CUSTOMER_ID,
    s.ORDER_ID,
    s.ITEM_ID,
    s.TIMESTAMP,
    s.QUANTITY,
    s.UNIT_PRICE,
    s.CHANNEL,
    s.CATEGORY,
)
_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    {SEQ} INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    quantity REAL NOT NULL,
    unit_price REAL NOT NULL,
    channel TEXT,
    category TEXT,
    UNIQUE (customer_id, order_id, item_id, timestamp, quantity, unit_price)
)
"""


_INSERT = (
    "INSERT OR IGNORE INTO events (request_id, received_at, customer_id, order_id, item_id, "
    "timestamp, quantity, unit_price, channel, category) "
    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM events WHERE "
    + " AND ".join(f"{c} = ?" for c in s.PURCHASE_KEY)  # the UNIQUE constraint's columns
    + ")"
)


@dataclass(frozen=True)
class AppendResult:
    """What :meth:`EventStore.append` did.

    ``stored`` holds the new lines (validated, canonical, with ``seq``);
    ``duplicates`` counts lines already in the store, which were skipped.
    """

    request_id: str
    stored: pd.DataFrame
    duplicates: int


#: How long a write waits for another writer's lock; and a readiness probe.
BUSY_SECONDS = 30
PROBE_BUSY_MS = 1000


class EventStore:
    """Append-only purchase lines in a SQLite file (created on first use).

    Thread-safe: one connection guarded by a lock (SQLite serialises writers
    anyway). Several processes may share the file; each sees the others'
    lines through :meth:`changed` and :meth:`read`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, check_same_thread=False, timeout=BUSY_SECONDS, isolation_level=None
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)
            self._data_version = self._version()
        except BaseException:
            self._conn.close()  # a store that cannot open (read-only, locked) leaks no files
            raise
        self._file_id = _file_id(self.path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def append(self, lines: pd.DataFrame) -> AppendResult:
        """Store validated lines (see :func:`check_events`) in one transaction.

        Returns the lines actually added (repeats of stored lines are skipped)
        with their sequence numbers.
        """
        request_id = uuid.uuid4().hex
        received = datetime.now(UTC).strftime(_TS_FORMAT)
        rows = _to_rows(lines)
        with self._lock:
            self._check_file()
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                before = cur.execute(f"SELECT COALESCE(MAX({SEQ}), 0) FROM events").fetchone()[0]
                # The NOT EXISTS guard keeps a retried line from taking a sequence
                # number: SQLite allocates one before OR IGNORE drops the row.
                cur.executemany(_INSERT, [(request_id, received, *row, *row[:6]) for row in rows])
                cur.execute("COMMIT")
            except BaseException:
                # SQLite already rolled back after e.g. "database or disk is full";
                # a second ROLLBACK would replace that cause with "no transaction is active".
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            stored = self._read_locked(after=before, request_id=request_id)
            self._data_version = self._version()
        return AppendResult(request_id, stored, duplicates=len(rows) - len(stored))

    def probe(self) -> None:
        """Raise :class:`sqlite3.Error` if a write cannot happen now; write nothing.

        Takes the write lock and allocates a page in a transaction that is then
        rolled back, so a read-only file or a full store (``max_page_count``)
        shows; a disk that fills only when pages are flushed shows on the next append.
        """
        with self._lock:
            self._check_file()
            # A probe answers /readyz: it waits a second for a lock, not a writer's 30.
            self._conn.execute(f"PRAGMA busy_timeout = {PROBE_BUSY_MS}")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("CREATE TABLE IF NOT EXISTS write_probe (x BLOB)")
                self._conn.execute("INSERT INTO write_probe VALUES (zeroblob(8192))")
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")

    def read(
        self, after: int = 0, *, upto: int | None = None, customer: str | None = None
    ) -> pd.DataFrame:
        """Stored lines with ``after < seq <= upto`` (of one customer), in order.

        Canonical raw columns plus ``seq``.
        """
        with self._lock:
            self._data_version = self._version()
            return self._read_locked(after=after, upto=upto, customer=customer)

    def count(self, after: int = 0, *, upto: int | None = None, customer: str | None = None) -> int:
        """How many stored lines :meth:`read` would return."""
        where, params = _where(after, upto, customer)
        with self._lock:
            return int(
                self._conn.execute(f"SELECT COUNT(*) FROM events {where}", params).fetchone()[0]
            )

    def purge(self, upto: int) -> int:
        """Delete every line with ``seq <= upto``; return how many were deleted.

        Sequence numbers are never reused (AUTOINCREMENT), so a snapshot's
        ``last_event_seq`` keeps its meaning after a purge.
        """
        with self._lock:
            cur = self._conn.execute(f"DELETE FROM events WHERE {SEQ} <= ?", (int(upto),))
            self._data_version = self._version()
            return int(cur.rowcount)

    def last_seq(self) -> int:
        """The highest ``seq`` ever given (0 before the first line), also after a purge.

        SQLite keeps it for an AUTOINCREMENT key in ``sqlite_sequence``; the
        next stored line gets the number after it.
        """
        with self._lock:
            return self._high_water()

    def number_after(self, seq: int) -> int | None:
        """Make the next stored line's ``seq`` greater than ``seq``; return the old last one.

        A snapshot built from another store (a Bento or an exported model folder
        started on a new data folder, a moved file) includes events up to its
        ``last_event_seq``; a store numbering below it would give new lines numbers
        the service takes as already applied. Returns None when nothing changed.
        """
        with self._lock:
            old = self._high_water()
            if old >= seq:
                return None
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
                self._conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (int(seq),)
                )
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            return old

    def changed(self) -> bool:
        """Whether another connection wrote since this one last looked (a cheap check).

        Never waits: the service asks on its event loop. While this connection
        is busy (an append and its fsync, or a read) the answer is False; an
        append is followed by a read of every new line anyway, and after
        anything else a later check sees the change.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return self._version() != self._data_version
        finally:
            self._lock.release()

    def _check_file(self) -> None:
        """Refuse to write once the file was deleted or replaced under the open connection.

        The connection would go on writing into the deleted file: lines answered
        as stored, gone at the next start. Reopening a new file would number lines
        from 1 again, below what the service has applied. Either way lines would be
        lost, so writes fail (503) until the file is restored or the service restarts.
        """
        if _file_id(self.path) != self._file_id:
            raise sqlite3.OperationalError(
                f"the event store file {self.path} was deleted or replaced while the service "
                "ran: restore it, or restart the service to start a new one"
            )

    def _high_water(self) -> int:
        row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return 0 if row is None else int(row[0])

    def _version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _read_locked(
        self,
        *,
        after: int,
        upto: int | None = None,
        customer: str | None = None,
        request_id: str | None = None,
    ) -> pd.DataFrame:
        where, params = _where(after, upto, customer)
        if request_id is not None:
            where += " AND request_id = ?"
            params.append(request_id)
        query = f"SELECT {SEQ}, {', '.join(EVENT_COLUMNS)} FROM events {where} ORDER BY {SEQ}"
        return _to_frame(self._conn.execute(query, params).fetchall())


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file, None when it does not exist."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _where(after: int, upto: int | None, customer: str | None) -> tuple[str, list[Any]]:
    clause, params = f"WHERE {SEQ} > ?", [int(after)]
    if upto is not None:
        clause += f" AND {SEQ} <= ?"
        params.append(int(upto))
    if customer is not None:
        clause += " AND customer_id = ?"
        params.append(str(customer))
    return clause, params


def read_events(path: str | Path, *, after: int = 0) -> pd.DataFrame:
    """All stored lines of an event store file, for training (empty if there is no file).

    Returns
    -------
    pandas.DataFrame
        Columns ``seq`` and the transactions contract (``customer_id``,
        ``order_id``, ``item_id``, ``timestamp``, ``quantity``, ``unit_price``,
        ``channel``, ``category``), ready for ``validate_transactions``.
    """
    query = f"SELECT {SEQ}, {', '.join(EVENT_COLUMNS)} FROM events WHERE {SEQ} > ? ORDER BY {SEQ}"
    return _to_frame(_read_only(path, query, (after,)))


def count_events(path: str | Path) -> tuple[int, int]:
    """(lines, highest ``seq`` among them) of an event store file, (0, 0) without one;
    what :func:`read_events` would return, counted without reading it."""
    rows = _read_only(path, f"SELECT COUNT(*), COALESCE(MAX({SEQ}), 0) FROM events", ())
    return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)


def _read_only(path: str | Path, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    path = Path(path)
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(query, params).fetchall()
    except sqlite3.OperationalError:  # a file without the table: nothing stored yet
        return []
    finally:
        conn.close()


def _to_rows(lines: pd.DataFrame) -> list[tuple[Any, ...]]:
    ts = pd.to_datetime(lines[s.TIMESTAMP]).dt.strftime(_TS_FORMAT)
    cols = [
        lines[s.CUSTOMER_ID].astype(str),
        lines[s.ORDER_ID].astype(str),
        lines[s.ITEM_ID].astype(str),
        ts,
        lines[s.QUANTITY].astype(float),
        lines[s.UNIT_PRICE].astype(float),
    ]
    for optional in (s.CHANNEL, s.CATEGORY):
        if optional in lines.columns:
            cols.append(lines[optional].astype(object).where(lines[optional].notna(), None))
        else:
            cols.append(pd.Series([None] * len(lines), index=lines.index, dtype=object))
    return list(zip(*(c.tolist() for c in cols), strict=True))


def _to_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[SEQ, *EVENT_COLUMNS])
    frame[SEQ] = frame[SEQ].astype(np.int64)
    for col in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.CHANNEL, s.CATEGORY):
        frame[col] = frame[col].astype("string")
    frame[s.TIMESTAMP] = pd.to_datetime(frame[s.TIMESTAMP], format=_TS_FORMAT)
    for col in (s.QUANTITY, s.UNIT_PRICE):
        frame[col] = frame[col].astype(float)
    return frame
