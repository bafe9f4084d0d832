"""An SQLite contact log read one customer at a time through a kept connection.

``/next_best_offer`` reads one customer's contacts per request. Opening a
connection, looking the table up and going through ``pandas.read_sql_query``
and a whole-frame filter for that cost about 2 ms at a million contacts,
against 1 ms for the CSV index; :class:`SqliteContactReader` keeps one
connection (reopened when the file is replaced), asks the ``customer_id``
index for the rows, and parses them with the same
:func:`serving.contact_store.checked_log` as :func:`read_contact_log`, so both
give the same rows and types (BENCHMARKS.md, the 1M-row contact log).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pandas as pd

from kizuna.features import schema as s
from kizuna.models.contact_log import empty_log
from kizuna.serving.contact_store import TABLE, checked_log


class SqliteContactReader:
    """One customer's contacts from an SQLite contact log (thread-safe).

    Parameters
    ----------
    path
        The ``.db`` / ``.sqlite`` / ``.sqlite3`` log; it need not exist yet.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None

    def contacts(self, customer: str, *, since: pd.Timestamp | str | None = None) -> pd.DataFrame:
        """``customer``'s contacts at or after ``since``, in table order.

        The same rows and types as ``read_contact_log(path, since=since, customer=customer)``.

        Parameters
        ----------
        customer
            The customer's id.
        since
            Earliest contact time, or None for all.

        Returns
        -------
        pandas.DataFrame
            The customer's contact rows.
        """
        with self._lock:
            conn = self._connection()
            if conn is None:
                return empty_log()
            try:
                cursor = conn.execute(f"SELECT * FROM {TABLE} WHERE customer_id = ?", (customer,))
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return empty_log()
                raise
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        frame = checked_log(pd.DataFrame(rows, columns=names, dtype=object), self.path)
        if since is not None:
            frame = frame.loc[frame[s.CONTACTED_AT] >= pd.Timestamp(since)]
        return frame.reset_index(drop=True)

    def close(self) -> None:
        """Close the kept connection (the next read opens one again)."""
        with self._lock:
            self._close()

    def _connection(self) -> sqlite3.Connection | None:
        """The kept connection; a new one when the file was replaced; None while it is missing."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._close()
            return None
        file_id = (stat.st_dev, stat.st_ino)
        if self._conn is None or file_id != self._file_id:
            self._close()
            # Reads only, from the worker threads of one service, under the lock above.
            self._conn = sqlite3.connect(self.path, check_same_thread=False)
            self._file_id = file_id
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn, self._file_id = None, None
