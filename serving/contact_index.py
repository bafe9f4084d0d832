"""A CSV contact log grouped by customer in memory, so a decision reads only its customer's rows.

``/next_best_offer`` checks one customer's contacts per request. Reading a CSV
log whole for that costs O(log) per request (about a second at a million
rows); :class:`CsvContactIndex` reads the file once, keeps each customer's
rows chained in compact arrays, and afterwards reads only the bytes appended
since, by this service (:meth:`CsvContactIndex.append`) or by any other writer
(``kizuna score offers --log-contacts``). A request then costs O(contacts of
its customer) plus O(new lines).

The file stays the truth: a file that shrank or was replaced (another inode,
as editors and ``mv`` make) is read again from the start; an edit in place that
does not shrink it is not noticed until the service restarts. Lines are parsed by the same code as
:func:`serving.contact_store.read_contact_log`, so both give the same rows;
an unterminated last line (a write in progress, or torn by a crash) is left
until it ends. Only the log's own columns are kept (extra columns of a
hand-made file are dropped). Memory: about 30 bytes per contact and 120 per
customer (1M contacts of 200k customers: 51 MiB kept, 212 MiB at the peak while
the file is first read; ``tracemalloc``, BENCHMARKS.md).
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.models.contact_log import LOG_COLUMNS, empty_log
from kizuna.serving.contact_sqlite import SqliteContactReader
from kizuna.serving.contact_store import (
    append_contacts,
    append_csv,
    checked_log,
    is_sqlite,
    log_rows,
    parse_csv,
)

#: The text columns kept as codes into a vocabulary (the customer id is the key).
_TEXT = (s.OFFER_ID, s.CHANNEL, s.CAMPAIGN_ID)


class _Vocabulary:
    """Distinct values of one text column; code -1 is a missing value."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.codes: dict[str, int] = {}

    def encode(self, column: pd.Series) -> np.ndarray:
        """Shape (n,) int32 codes of ``column`` (new values are added)."""
        local, uniques = pd.factorize(column, use_na_sentinel=True)
        mapping = np.empty(len(uniques) + 1, dtype=np.int32)
        mapping[-1] = -1
        for i, value in enumerate(uniques):
            code = self.codes.get(value)
            if code is None:
                code = self.codes[value] = len(self.values)
                self.values.append(value)
            mapping[i] = code
        return mapping[local]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Object array of the values (NaN for -1); O(len(codes)), whatever the vocabulary's size."""
        values = self.values
        return np.array([values[c] if c >= 0 else np.nan for c in codes.tolist()], dtype=object)


class CsvContactIndex:
    """A CSV contact log's rows, chained per customer, kept in step with the file (thread-safe).

    Parameters
    ----------
    path
        The ``.csv`` contact log; it need not exist yet.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._reset(None)

    def _reset(self, file_id: tuple[int, int] | None) -> None:
        self._file_id = file_id
        self._offset = 0  # bytes of the file indexed so far (whole lines only)
        self._header = b""
        self._columns: list[str] = []  # the log columns the file has, in its order
        self._n = 0
        self._time = np.empty(0, dtype=np.int64)  # microseconds since the epoch
        self._prev = np.empty(0, dtype=np.int64)  # the customer's previous row, -1 if none
        self._codes = {col: np.empty(0, dtype=np.int32) for col in _TEXT}
        self._vocab = {col: _Vocabulary() for col in _TEXT}
        self._last: dict[str, int] = {}  # customer -> their latest row

    @property
    def n_contacts(self) -> int:
        """Rows indexed so far."""
        return self._n

    @property
    def n_customers(self) -> int:
        """Customers with a contact indexed so far."""
        return len(self._last)

    # -- reading ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Index what the file gained since the last read (all of it the first time)."""
        with self._lock:
            self._catch_up()

    def contacts(self, customer: str, *, since: pd.Timestamp | str | None = None) -> pd.DataFrame:
        """``customer``'s contacts at or after ``since``, in file order.

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
            self._catch_up()
            rows = []
            row = self._last.get(str(customer), -1)
            while row >= 0:
                rows.append(row)
                row = int(self._prev[row])
            rows.reverse()
            picked = np.asarray(rows, dtype=np.int64)
            times = self._time[picked]
            if since is not None:  # compared in nanoseconds, as pandas compares them
                after = times * 1000 >= pd.Timestamp(since).as_unit("ns").value
                picked, times = picked[after], times[after]
            if not self._columns:
                return empty_log()
            frame = pd.DataFrame(
                {
                    s.CUSTOMER_ID: np.full(len(picked), str(customer), dtype=object),
                    s.CONTACTED_AT: times.view("datetime64[us]"),
                    **{col: self._vocab[col].decode(self._codes[col][picked]) for col in _TEXT},
                }
            )[self._columns]
        for col in frame.columns:
            if col != s.CONTACTED_AT:
                frame[col] = frame[col].astype("str")
        return frame

    def _catch_up(self) -> None:
        """Index the lines written since the last call (everything the first time)."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            if self._file_id is not None:
                self._reset(None)
            return
        with handle:
            stat = os.fstat(handle.fileno())
            file_id = (stat.st_dev, stat.st_ino)
            if file_id != self._file_id or stat.st_size < self._offset:
                self._reset(file_id)  # replaced or truncated: read it again
            if stat.st_size == self._offset:
                return
            handle.seek(self._offset)
            data = handle.read(stat.st_size - self._offset)
        end = data.rfind(b"\n") + 1
        if end == 0:
            return  # no whole line yet
        body = data[:end]
        if not self._header:
            cut = body.index(b"\n") + 1
            header, body = body[:cut], body[cut:]
            columns = checked_log(parse_csv(io.BytesIO(header), self.path), self.path).columns
            self._header, self._columns = header, [c for c in columns if c in LOG_COLUMNS]
        if body:
            frame = checked_log(parse_csv(io.BytesIO(self._header + body), self.path), self.path)
            self._add(frame)
        self._offset += end

    def _add(self, frame: pd.DataFrame) -> None:
        """Chain ``frame``'s rows (parsed by :func:`checked_log`) onto their customers'."""
        customers = frame[s.CUSTOMER_ID]
        frame = frame.loc[customers.notna().to_numpy()]
        k = len(frame)
        if k == 0:
            return
        base = self._n
        self._grow(base + k)
        self._time[base : base + k] = frame[s.CONTACTED_AT].to_numpy().view(np.int64)
        for col in _TEXT:
            self._codes[col][base : base + k] = (
                self._vocab[col].encode(frame[col]) if col in frame.columns else -1
            )
        # Within the frame, each row points at the same customer's previous row; the
        # first row of each customer at their latest row before the frame.
        local, uniques = pd.factorize(frame[s.CUSTOMER_ID])
        order = np.argsort(local, kind="stable")
        sorted_codes = local[order]
        first = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
        last = np.r_[first[1:], True]
        prev = np.empty(k, dtype=np.int64)
        prev[order[~first]] = base + order[np.flatnonzero(~first) - 1]
        for pos in np.flatnonzero(first):
            prev[order[pos]] = self._last.get(uniques[sorted_codes[pos]], -1)
        self._prev[base : base + k] = prev
        for pos in np.flatnonzero(last):
            self._last[uniques[sorted_codes[pos]]] = base + int(order[pos])
        self._n = base + k

    def _grow(self, size: int) -> None:
        if size <= len(self._time):
            return
        capacity = max(size, 2 * len(self._time), 1024)

        def grown(values: np.ndarray) -> np.ndarray:
            out = np.empty(capacity, dtype=values.dtype)
            out[: self._n] = values[: self._n]
            return out

        self._time, self._prev = grown(self._time), grown(self._prev)
        self._codes = {col: grown(codes) for col, codes in self._codes.items()}

    # -- writing ---------------------------------------------------------------------------
    def append(self, contacts: pd.DataFrame) -> int:
        """Append ``contacts`` to the file (locked, one write, fsync) and index them; rows written.

        Parameters
        ----------
        contacts
            Contact rows, shape (n, k).

        Returns
        -------
        int
            Rows written.
        """
        rows = log_rows(contacts)
        if len(rows) == 0:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            append_csv(self.path, rows)
            self._catch_up()  # reads back just these lines (and any another writer added)
        return len(rows)


class ContactLog:
    """The service's contact log at ``path``: reads one customer's contacts, appends new ones.

    An SQLite log is read through its index on ``customer_id`` with a kept
    connection (:class:`serving.contact_sqlite.SqliteContactReader`); a CSV log
    through a :class:`CsvContactIndex`. Either way a read costs O(that customer's contacts).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._index: CsvContactIndex | SqliteContactReader | None = None
        self._lock = threading.Lock()  # one reader, whichever request comes first

    def _reader(self) -> CsvContactIndex | SqliteContactReader:
        with self._lock:
            if self._index is None:
                sqlite = is_sqlite(self.path)
                self._index = (
                    SqliteContactReader(self.path) if sqlite else CsvContactIndex(self.path)
                )
        return self._index

    def read(self, customer: str, since: pd.Timestamp | str | None = None) -> pd.DataFrame:
        """``customer``'s contacts at or after ``since`` (as :func:`read_contact_log`).

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
        return self._reader().contacts(customer, since=since)

    def append(self, contacts: pd.DataFrame) -> int:
        """Write ``contacts`` durably (as :func:`append_contacts`); rows written.

        Parameters
        ----------
        contacts
            Contact rows, shape (n, k).

        Returns
        -------
        int
            Rows written.
        """
        reader = self._reader()
        if isinstance(reader, CsvContactIndex):
            return reader.append(contacts)
        return append_contacts(self.path, contacts)

    def warm(self) -> None:
        """Read a CSV log into memory now, so no request waits for it (nothing for SQLite)."""
        reader = self._reader()
        if isinstance(reader, CsvContactIndex):
            reader.refresh()
