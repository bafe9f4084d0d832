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
train`` / ``kizuna snapshot`` read the store through
:func:`serving.event_rows.read_events`, so
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

import pandas as pd

from kizuna.features import schema as s
from kizuna.serving.event_rows import (
    EVENT_COLUMNS,
    SEQ,
    TS_FORMAT,
    to_frame,
    to_rows,
    where_clause,
)
from kizuna.serving.event_sequence import SequenceNumbers

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


class EventStore(SequenceNumbers):
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

        Parameters
        ----------
        lines
            Canonical transactions, shape (n, n_columns).

        Returns
        -------
        AppendResult
            The lines actually added, with their ``seq`` (repeats of stored lines are skipped).
        """
        request_id = uuid.uuid4().hex
        received = datetime.now(UTC).strftime(TS_FORMAT)
        rows = to_rows(lines)
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

        Parameters
        ----------
        after
            Lines after this sequence number.
        upto
            Up to and including this one; None: no upper bound.
        customer
            Only this customer's lines; None: every customer's.

        Returns
        -------
        pandas.DataFrame
            Canonical raw columns plus ``seq``, shape (n, n_columns + 1).
        """
        with self._lock:
            self._data_version = self._version()
            return self._read_locked(after=after, upto=upto, customer=customer)

    def count(self, after: int = 0, *, upto: int | None = None, customer: str | None = None) -> int:
        """How many stored lines :meth:`read` would return.

        Parameters
        ----------
        after, upto, customer
            As for :meth:`read`.

        Returns
        -------
        int
        """
        where, params = where_clause(after, upto, customer)
        with self._lock:
            return int(
                self._conn.execute(f"SELECT COUNT(*) FROM events {where}", params).fetchone()[0]
            )

    def changed(self) -> bool:
        """Whether another connection wrote since this one last looked (a cheap check).

        Never waits: the service asks on its event loop. While this connection
        is busy (an append and its fsync, or a read) the answer is False; an
        append is followed by a read of every new line anyway, and after
        anything else a later check sees the change.

        Returns
        -------
        bool
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
        where, params = where_clause(after, upto, customer)
        if request_id is not None:
            where += " AND request_id = ?"
            params.append(request_id)
        query = f"SELECT {SEQ}, {', '.join(EVENT_COLUMNS)} FROM events {where} ORDER BY {SEQ}"
        return to_frame(self._conn.execute(query, params).fetchall())


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file, None when it does not exist."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
