"""The durable contact log: append the contacts made, read them back for the caps.

Two formats, chosen by the file's suffix:

- ``.csv``: one line per contact, header written with the first rows; simple
  to inspect and to ship to a CRM. Each append is one write under an exclusive
  ``flock``, then an fsync (:func:`append_csv`), so concurrent writers never
  interleave lines; a crash mid-write can still leave a torn last line (which
  :func:`read_contact_log` reports).
- ``.db`` / ``.sqlite`` / ``.sqlite3``: an SQLite table ``contacts``, appended in one
  transaction, so a run's contacts are either all in or all out; use it when
  several jobs write.

The service reads either through :class:`serving.contact_index.ContactLog`, one
customer's contacts per request.

Columns: ``customer_id``, ``offer_id``, ``contacted_at`` (ISO timestamp),
``channel``, ``campaign_id`` (see :mod:`models.contact_log`).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.contact_log import LOG_COLUMNS, empty_log

TABLE = "contacts"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def is_sqlite(path: Path) -> bool:
    """Whether ``path`` names an SQLite log (by its suffix); neither SQLite nor CSV is an error.

    Parameters
    ----------
    path
        The contact log's path.

    Returns
    -------
    bool
    """
    if path.suffix.lower() in SQLITE_SUFFIXES:
        return True
    if path.suffix.lower() == ".csv":
        return False
    raise KizunaInputError(
        f"contact log {path}: use a .csv file or an SQLite file ({', '.join(SQLITE_SUFFIXES)})"
    )


def append_contacts(path: str | Path, contacts: pd.DataFrame) -> int:
    """Append contact rows to the log at ``path`` (created if missing); return rows written.

    Parameters
    ----------
    path
        The contact log (CSV or SQLite).
    contacts
        Contact rows, shape (n, k), with the log's columns.

    Returns
    -------
    int
        Rows written.
    """
    path = Path(path)
    rows = log_rows(contacts)
    if len(rows) == 0:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(path):
        with sqlite3.connect(path) as conn:  # one transaction: all rows or none
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (customer_id TEXT NOT NULL, "
                "offer_id TEXT NOT NULL, contacted_at TEXT NOT NULL, channel TEXT, "
                "campaign_id TEXT)"
            )
            # /next_best_offer reads one customer's contacts per request.
            conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_customer ON {TABLE} (customer_id)")
            conn.executemany(
                f"INSERT INTO {TABLE} ({', '.join(LOG_COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
                rows.itertuples(index=False, name=None),
            )
        return len(rows)
    append_csv(path, rows)
    return len(rows)


def append_csv(path: Path, rows: pd.DataFrame) -> tuple[int, int]:
    """Append ``rows`` to a CSV log in one write, under an exclusive file lock, then fsync.

    The lock (``flock``) keeps concurrent writers, threads or processes, from
    interleaving lines or both writing the header; a file that does not end in a
    newline (edited by hand) gets one first, so no line is glued to another.

    Parameters
    ----------
    path
        The CSV log.
    rows
        Rows as :func:`log_rows` makes them, shape (n, k).

    Returns
    -------
    (start, end)
        Byte offsets of the file before and after the write.
    """
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = os.fstat(fd).st_size
        lead = b""
        if start > 0 and os.pread(fd, 1, start - 1) != b"\n":
            lead = b"\n"
        text = rows.to_csv(header=start == 0, index=False, lineterminator="\n")
        data = lead + text.encode()
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
        if start == 0:
            _fsync_folder(path.parent)  # the new file's directory entry
        return start, start + len(data)
    finally:
        os.close(fd)  # releases the lock


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_contact_log(
    path: str | Path,
    *,
    since: pd.Timestamp | str | None = None,
    customer: str | None = None,
) -> pd.DataFrame:
    """Read the log (an empty log if the file does not exist yet).

    Parameters
    ----------
    since
        Keep only contacts at or after this time (older ones cannot block
        anything shorter than ``now - since``).
    customer
        Keep only this customer's contacts (an SQLite log reads only theirs).
    path
        The contact log (CSV or SQLite).

    Returns
    -------
    pandas.DataFrame
        The log's rows, shape (n, k).
    """
    path = Path(path)
    if not path.exists():
        return empty_log()
    if is_sqlite(path):
        with sqlite3.connect(path) as conn:
            exists = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name=?", (TABLE,)
            ).fetchone()
            if not exists:
                return empty_log()
            where, params = ("WHERE customer_id = ?", (customer,)) if customer else ("", ())
            frame = pd.read_sql_query(f"SELECT * FROM {TABLE} {where}", conn, params=params)
    else:
        frame = parse_csv(path, path)
    frame = checked_log(frame, path)
    keep = pd.Series(True, index=frame.index)
    if customer is not None:
        keep &= frame[s.CUSTOMER_ID] == customer
    if since is not None:
        keep &= frame[s.CONTACTED_AT] >= pd.Timestamp(since)
    return frame.loc[keep].reset_index(drop=True)


def log_rows(contacts: pd.DataFrame) -> pd.DataFrame:
    """``contacts`` as the log stores them: its columns in order, times as ISO text, None for NA.

    Parameters
    ----------
    contacts
        Contact rows, shape (n, k).

    Returns
    -------
    pandas.DataFrame
        Shape (n, k), the log's columns.
    """
    missing = [c for c in LOG_COLUMNS if c not in contacts.columns]
    if missing:
        raise KizunaInputError(f"contacts need columns {list(LOG_COLUMNS)}", column=missing[0])
    rows = contacts.loc[:, list(LOG_COLUMNS)].copy()
    rows[s.CONTACTED_AT] = pd.to_datetime(rows[s.CONTACTED_AT]).dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return rows.astype(object).where(rows.notna(), None)


def parse_csv(source: Any, path: Path) -> pd.DataFrame:
    """Read CSV log lines from ``source`` (a path or a binary buffer), ids as text.

    Parameters
    ----------
    source
        A path or a binary buffer of CSV lines.
    path
        The log's path, named in errors.

    Returns
    -------
    pandas.DataFrame
        The lines as read, shape (n, k).
    """
    try:
        return pd.read_csv(
            source,
            dtype={s.CUSTOMER_ID: str, "offer_id": str, s.CHANNEL: str, "campaign_id": str},
        )
    except pd.errors.ParserError as exc:
        raise KizunaInputError(f"contact log {path} is not valid CSV: {exc}") from None


def checked_log(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The read log with its columns checked, times parsed (ISO 8601) and ids as text.

    Parameters
    ----------
    frame
        The log as read, shape (n, k).
    path
        The log's path, named in errors.

    Returns
    -------
    pandas.DataFrame
        Shape (n, k).
    """
    missing = [c for c in LOG_COLUMNS[:3] if c not in frame.columns]
    if missing:
        raise KizunaInputError(f"contact log {path} lacks columns", column=missing[0])
    times = pd.to_datetime(frame[s.CONTACTED_AT], errors="coerce", format="ISO8601")
    if times.isna().any():
        raise KizunaInputError(
            f"contact log {path} has unreadable times",
            column=s.CONTACTED_AT,
            values=frame.loc[times.isna(), s.CONTACTED_AT].unique(),
        )
    frame[s.CONTACTED_AT] = times.astype("datetime64[us]")
    for col in (s.CUSTOMER_ID, "offer_id", s.CHANNEL, "campaign_id"):
        if col in frame.columns:
            frame[col] = frame[col].astype("str")
    return frame
