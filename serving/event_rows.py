"""Purchase lines as the event store keeps them: the row layout and reading a store file.

:class:`serving.event_store.EventStore` writes lines through :func:`to_rows`
and reads them back through :func:`to_frame`; training reads a store file
without opening it for writing (:func:`read_events`, :func:`count_events`).
"""

from __future__ import annotations

import sqlite3
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
#: How a timestamp is stored: naive text that sorts and compares in time order.
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def where_clause(after: int, upto: int | None, customer: str | None) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause picking ``after < seq <= upto`` (of one customer).

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
    (clause, parameters)
        SQL text with ``?`` placeholders, and their values in order.
    """
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

    Parameters
    ----------
    path
        The store file.
    after
        Only lines with a higher ``seq``.

    Returns
    -------
    pandas.DataFrame
        Columns ``seq`` and the transactions contract (``customer_id``,
        ``order_id``, ``item_id``, ``timestamp``, ``quantity``, ``unit_price``,
        ``channel``, ``category``), ready for ``validate_transactions``.
    """
    query = f"SELECT {SEQ}, {', '.join(EVENT_COLUMNS)} FROM events WHERE {SEQ} > ? ORDER BY {SEQ}"
    return to_frame(_read_only(path, query, (after,)))


def count_events(path: str | Path) -> tuple[int, int]:
    """What :func:`read_events` would return, counted without reading it.

    Parameters
    ----------
    path
        The store file.

    Returns
    -------
    (lines, last_seq)
        The number of lines and the highest ``seq`` among them; (0, 0) without a file.
    """
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


def to_rows(lines: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Validated lines as the store's row tuples, in the ``events`` table's column order.

    Parameters
    ----------
    lines
        Canonical transactions, shape (n, n_columns); ``channel`` and
        ``category`` may be absent (stored as NULL).

    Returns
    -------
    list of tuple
        One (customer, order, item, timestamp text, quantity, price, channel,
        category) tuple per line.
    """
    ts = pd.to_datetime(lines[s.TIMESTAMP]).dt.strftime(TS_FORMAT)
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


def to_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows read back from the store (``seq`` first) as a typed frame.

    Parameters
    ----------
    rows
        Tuples of ``seq`` and the :data:`EVENT_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        Columns ``seq`` (int64) and the transactions contract, ids as strings,
        timestamps parsed.
    """
    frame = pd.DataFrame(rows, columns=[SEQ, *EVENT_COLUMNS])
    frame[SEQ] = frame[SEQ].astype(np.int64)
    for col in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.CHANNEL, s.CATEGORY):
        frame[col] = frame[col].astype("string")
    frame[s.TIMESTAMP] = pd.to_datetime(frame[s.TIMESTAMP], format=TS_FORMAT)
    for col in (s.QUANTITY, s.UNIT_PRICE):
        frame[col] = frame[col].astype(float)
    return frame
