"""Writing the CRM export: a CSV or Parquet file, or a table behind a SQLAlchemy URL.

Chunks (:func:`training.batch_score.score_chunks`) are written one at a time,
so memory holds one chunk whatever the customer count; a file is replaced
only when complete, a table in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.serving.sql_driver import missing_driver
from kizuna.training.atomic_write import replacing
from kizuna.training.csv_safety import neutralise_formulas
from kizuna.training.export_schema import conform

DEFAULT_TABLE = "customer_scores"


def is_sql_url(target: str) -> bool:
    """Whether ``target`` is a SQLAlchemy URL (``sqlite:///crm.sqlite``), not a file path.

    Parameters
    ----------
    target
        An output path or URL.

    Returns
    -------
    bool
    """
    return "://" in target


def check_target(target: str) -> None:
    """Refuse an output the writers cannot produce, before any scoring work.

    Parameters
    ----------
    target
        A path ending in ``.csv`` / ``.csv.gz`` / ``.parquet``, or a SQLAlchemy URL.

    Raises
    ------
    KizunaInputError
        For any other name.
    """
    name = target.lower()
    if not (is_sql_url(target) or name.endswith((".csv", ".csv.gz", ".parquet"))):
        raise KizunaInputError(
            f"cannot tell the output type of {target}: use .csv, .csv.gz, "
            ".parquet or a SQLAlchemy URL such as sqlite:///crm.sqlite"
        )


def write_chunks(
    chunks: Iterator[pd.DataFrame],
    target: str,
    *,
    table: str = DEFAULT_TABLE,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Write chunks to a CSV or Parquet file, or a SQL table (replaced); return the row count.

    Parameters
    ----------
    chunks
        Score frames with the same columns, shape (n_rows, n_columns) each.
    target
        A path ending in ``.csv`` / ``.csv.gz`` / ``.parquet``, or a SQLAlchemy URL.
    table
        The SQL table to replace (SQL targets only).
    on_chunk
        Called with each chunk's row count (progress).

    Returns
    -------
    int
        Rows written.
    """
    check_target(target)
    if is_sql_url(target):
        return _write_sql(chunks, target, table, on_chunk)
    name = Path(target).name.lower()
    # Written beside the target and renamed over it when complete: a failure or
    # a kill part-way leaves last night's file as it was, not a truncated one.
    with replacing(target) as temp:
        if name.endswith(".parquet"):
            return _write_parquet(chunks, temp, on_chunk)
        return _write_csv(chunks, temp, on_chunk, gz=name.endswith(".gz"))


def _write_csv(
    chunks: Iterator[pd.DataFrame],
    path: Path,
    on_chunk: Callable[[int], None] | None,
    *,
    gz: bool,
) -> int:
    import gzip

    total = 0
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:
        for i, chunk in enumerate(chunks):
            neutralise_formulas(chunk).to_csv(handle, index=False, header=i == 0)
            total += len(chunk)
            if on_chunk:
                on_chunk(len(chunk))
    return total


def _write_parquet(
    chunks: Iterator[pd.DataFrame], path: Path, on_chunk: Callable[[int], None] | None
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    total = 0
    writer = None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
            total += len(chunk)
            if on_chunk:
                on_chunk(len(chunk))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no customers: still leave a readable, empty file
        pq.write_table(pa.Table.from_pandas(conform(pd.DataFrame()), preserve_index=False), path)
    return total


def _write_sql(
    chunks: Iterator[pd.DataFrame], url: str, table: str, on_chunk: Callable[[int], None] | None
) -> int:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        missing = missing_driver(exc, url)  # "pip install 'kizuna[postgres]'"
        raise missing or KizunaInputError(f"cannot use the SQL target {url!r}: {exc}") from None
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)  # as the file outputs do
    total = 0
    try:
        # One transaction: readers see the old table or the new one, never half.
        with engine.begin() as conn:
            first = True
            for chunk in chunks:
                chunk.to_sql(
                    table,
                    conn,
                    if_exists="replace" if first else "append",
                    index=False,
                    chunksize=5_000,
                )
                first = False
                total += len(chunk)
                if on_chunk:
                    on_chunk(len(chunk))
            if first:
                conform(pd.DataFrame()).to_sql(table, conn, if_exists="replace", index=False)
    except sa.exc.OperationalError as exc:  # cannot open or write the database
        raise KizunaInputError(f"cannot write to {url}: {exc.orig}") from None
    finally:
        engine.dispose()
    return total
