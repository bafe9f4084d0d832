"""Customers' canonical transaction lines, sorted by customer, in a memory-mapped Arrow file.

The snapshot holds every line it was built from in an uncompressed Arrow IPC
file, sorted by customer, with a per-customer offset index. The service maps
the file (``pyarrow.memory_map``) and reads only the lines of customers who
get events, so its start time and memory grow with customers, not lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kizuna.features import schema as s

LINES_FILE = "transactions.arrow"
INDEX_FILE = "transactions_index.parquet"
#: The columns features use (an export's extra columns would cost memory).
TX_COLUMNS = (
    s.CUSTOMER_ID,
    s.ORDER_ID,
    s.ITEM_ID,
    s.TIMESTAMP,
    s.QUANTITY,
    s.UNIT_PRICE,
    s.REVENUE,
    s.IS_RETURN,
    s.CHANNEL,
    s.CATEGORY,
)
_TEXT = (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.CHANNEL, s.CATEGORY)


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the columns features use, ids as text.

    Parameters
    ----------
    frame
        Transaction lines, shape (n, k).

    Returns
    -------
    pandas.DataFrame
        Shape (n, k').
    """
    return frame[[c for c in TX_COLUMNS if c in frame.columns]]


def write_transaction_log(transactions: pd.DataFrame, folder: Path) -> int:
    """Write validated lines sorted by customer, and the offset index; return the line count.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n, k).
    folder
        The snapshot folder (``transactions.arrow`` and ``transactions_index.parquet``).

    Returns
    -------
    int
        Lines written.
    """
    tx = canonical(transactions)
    # Sorting the ids' ranks (integers) gives the order of sorting the ids themselves,
    # ties kept in line order, without comparing millions of Python strings.
    ranks, uniques = pd.factorize(tx[s.CUSTOMER_ID].astype("string"), sort=True)
    order = np.argsort(ranks, kind="stable")
    tx = tx.iloc[order].reset_index(drop=True)
    ranks = ranks[order]
    table = pa.Table.from_pandas(tx, preserve_index=False)
    with pa.OSFile(str(folder / LINES_FILE), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 20)
    if len(ranks):
        starts = np.flatnonzero(np.r_[True, ranks[1:] != ranks[:-1]])
        stops = np.r_[starts[1:], len(ranks)]
    else:
        starts = stops = np.zeros(0, dtype=np.int64)
    index = pa.table(
        {
            s.CUSTOMER_ID: pa.array(np.asarray(uniques[ranks[starts]], dtype=object), pa.string()),
            "start": pa.array(starts, pa.int64()),
            "stop": pa.array(stops, pa.int64()),
        }
    )
    pq.write_table(index, folder / INDEX_FILE)
    return len(tx)


class TransactionLog:
    """Read-only, memory-mapped access to one customer's (or a few customers') lines."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        source = pa.memory_map(str(folder / LINES_FILE), "r")
        self._table = pa.ipc.open_file(source).read_all()  # zero-copy over the map
        index = pq.read_table(folder / INDEX_FILE)
        self._index = pd.Index(index[s.CUSTOMER_ID].to_numpy(zero_copy_only=False))
        self._starts = index["start"].to_numpy()
        self._stops = index["stop"].to_numpy()

    @property
    def n_lines(self) -> int:
        return self._table.num_rows

    def lines(self, customer_ids: list[str], columns: list[str] | None = None) -> pd.DataFrame:
        """Every stored line of ``customer_ids`` (unknown ids have none), shape (n, k).

        ``columns`` reads only those (the ones the log has), in that order.

        Parameters
        ----------
        customer_ids
            Customer ids.
        columns
            Only these columns, or None for all.

        Returns
        -------
        pandas.DataFrame
            Shape (n, k).
        """
        pos = self._index.get_indexer(customer_ids)
        pos = pos[pos >= 0]
        starts, lengths = self._starts[pos], self._stops[pos] - self._starts[pos]
        # Row numbers of every run [start, stop), without a Python loop.
        offsets = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        rows = np.arange(int(lengths.sum()), dtype=np.int64) + offsets
        table = self._table
        if columns is not None:
            table = table.select([c for c in columns if c in table.column_names])
        frame = table.take(pa.array(rows, pa.int64())).to_pandas()
        for col in _TEXT:
            if col in frame.columns:
                frame[col] = frame[col].astype("string")
        return frame


_KEY_TYPES = {
    s.CUSTOMER_ID: "string",
    s.ORDER_ID: "string",
    s.ITEM_ID: "string",
    s.TIMESTAMP: "datetime64[ns]",
    s.QUANTITY: "float64",
    s.UNIT_PRICE: "float64",
}


def without_repeats(lines: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    """``lines`` less those repeating a ``known`` line on ``PURCHASE_KEY`` (as typed).

    Parameters
    ----------
    lines
        New lines, shape (n, k).
    known
        Lines already held, shape (m, k).

    Returns
    -------
    pandas.DataFrame
        Shape (m, k), m <= n.
    """
    key = list(s.PURCHASE_KEY)
    if len(known) == 0 or not set(key) <= set(known.columns):
        return lines
    keys = pd.MultiIndex.from_frame(known[key].astype(_KEY_TYPES))
    given = pd.MultiIndex.from_frame(lines[key].astype(_KEY_TYPES))
    return lines[~given.isin(keys)]


def clip_to(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Lines stamped at or after ``as_of`` count as made just before it (the state's clock).

    Parameters
    ----------
    lines
        Transaction lines, shape (n, k).
    as_of
        The state's clock.

    Returns
    -------
    pandas.DataFrame
        Shape (n, k).
    """
    late = lines[s.TIMESTAMP] >= as_of
    if not late.any():
        return lines
    out = lines.copy()
    out.loc[late, s.TIMESTAMP] = as_of - pd.Timedelta(microseconds=1)
    return out
