"""The snapshot's lines file from Spark, streamed to the driver one partition at a time.

The validated lines are range-partitioned by customer and sorted within
partitions; each partition is encoded to Arrow chunks on its executor and the
driver appends them to ``transactions.arrow`` (with its per-customer offset
index), never holding all the lines at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s

#: Lines per Arrow chunk sent from an executor to the driver.
CHUNK_ROWS = 1 << 18
CHUNK_SCHEMA = "part int, chunk int, payload binary"


def write_lines(kept: Any, folder: Path, partitions: int, *, chunk_rows: int = CHUNK_ROWS) -> int:
    """Write ``transactions.arrow`` and its index from Spark; return the line count.

    The lines are range-partitioned by customer and sorted within partitions
    by customer and input position (the pandas engine's stable sort); each
    partition is encoded to Arrow chunks on its executor, and the driver pulls
    one partition at a time (``toLocalIterator``) and appends its chunks.

    Parameters
    ----------
    kept
        The validated lines on Spark.
    folder
        The snapshot folder.
    partitions
        Number of range partitions.
    chunk_rows
        Rows per Arrow chunk.

    Returns
    -------
    int
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from kizuna.serving.transaction_log import INDEX_FILE, LINES_FILE, TX_COLUMNS

    cols = [c for c in TX_COLUMNS if c in kept.columns]
    ordered = (
        kept.select(*cols, s.ROW_ID)
        .repartitionByRange(max(partitions, 1), F.col(s.CUSTOMER_ID))
        .sortWithinPartitions(s.CUSTOMER_ID, s.ROW_ID)
    )

    def encode(batches: Any) -> Any:
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        buffered: list[pd.DataFrame] = []
        size, chunk = 0, 0
        for batch in batches:
            buffered.append(batch)
            size += len(batch)
            if size >= chunk_rows:
                yield _chunk(pd.concat(buffered, ignore_index=True), cols, part, chunk)
                buffered, size, chunk = [], 0, chunk + 1
        if buffered:
            yield _chunk(pd.concat(buffered, ignore_index=True), cols, part, chunk)

    runs = _Runs()
    writer = None
    sink = pa.OSFile(str(folder / LINES_FILE), "wb")
    try:
        for row in ordered.mapInPandas(encode, CHUNK_SCHEMA).toLocalIterator():
            table = pa.ipc.open_stream(row["payload"]).read_all()
            if writer is None:
                schema = table.schema
                writer = pa.ipc.new_file(sink, schema)
            writer.write_table(table.cast(schema))
            runs.add(table.column(s.CUSTOMER_ID).to_numpy(zero_copy_only=False))
        if writer is None:  # no lines: an empty file with the columns
            empty = _typed_lines(kept.limit(0).select(*cols).toPandas(), cols)
            writer = pa.ipc.new_file(sink, pa.Table.from_pandas(empty, preserve_index=False).schema)
    finally:
        if writer is not None:
            writer.close()
        sink.close()
    ids, starts, stops = runs.result()
    index = pa.table(
        {
            s.CUSTOMER_ID: pa.array(ids.astype(str), pa.string()),
            "start": pa.array(starts, pa.int64()),
            "stop": pa.array(stops, pa.int64()),
        }
    )
    pq.write_table(index, folder / INDEX_FILE)
    return runs.total


def _typed_lines(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Lines with the dtypes the pandas engine writes them with."""
    out = frame[cols].reset_index(drop=True)
    out[s.TIMESTAMP] = out[s.TIMESTAMP].astype("datetime64[ns]")
    out[s.IS_RETURN] = out[s.IS_RETURN].astype(bool)
    for col in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID):
        out[col] = out[col].astype("string")
    for col in (s.CHANNEL, s.CATEGORY):  # extra text: pandas' default text dtype
        if col in out.columns:
            out[col] = out[col].astype("str")
    for col in (s.QUANTITY, s.UNIT_PRICE, s.REVENUE):
        out[col] = out[col].astype(float)
    return out


def _chunk(frame: pd.DataFrame, cols: list[str], part: int, chunk: int) -> pd.DataFrame:
    import pyarrow as pa

    table = pa.Table.from_pandas(_typed_lines(frame, cols), preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pd.DataFrame(
        {"part": [part], "chunk": [chunk], "payload": [sink.getvalue().to_pybytes()]}
    )


class _Runs:
    """Customer runs over consecutive chunks of sorted ids: the offset index."""

    def __init__(self) -> None:
        self.ids: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        self.total = 0
        self.last: Any = None

    def add(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        if self.last is not None and ids[0] < self.last:
            raise AssertionError("Spark returned the lines out of customer order")
        change = np.r_[True, ids[1:] != ids[:-1]]
        if self.last is not None and ids[0] == self.last:
            change[0] = False  # the previous chunk's customer continues
        pos = np.flatnonzero(change)
        self.ids.append(ids[pos])
        self.starts.append(pos.astype(np.int64) + self.total)
        self.total += len(ids)
        self.last = ids[-1]

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.ids:
            empty = np.zeros(0, dtype=np.int64)
            return np.zeros(0, dtype=object), empty, empty
        starts = np.concatenate(self.starts)
        return np.concatenate(self.ids), starts, np.r_[starts[1:], self.total].astype(np.int64)
