"""Reading sources into Spark and writing results: paths (Parquet, CSV) or table names.

The raw rows are read as they are; the format adapters and validation run per
shard in pandas (:mod:`training.engines.spark_features`), exactly as the pandas
engine runs them on the whole table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.training.config import DataConfig

#: Rows pandas reads to choose a CSV column's type, as ``pandas.read_csv`` would.
TYPE_SAMPLE_ROWS = 100_000
ROW = "__row"  # position of the row in the input


@dataclass
class SparkRaw:
    """A raw transactions source on Spark, and how to turn a shard of it into canonical rows.

    Attributes
    ----------
    frame
        Spark DataFrame of the input rows, with ``__row`` (input position).
    customer_col
        The raw column that becomes ``customer_id`` (the shard key).
    adapter
        pandas function from raw rows to canonical columns (format adapters).
    validate_kwargs
        Options for :func:`features.validate.validate_transactions`.
    """

    frame: Any
    customer_col: str
    adapter: Callable[[pd.DataFrame], pd.DataFrame]
    validate_kwargs: dict[str, Any] = field(default_factory=dict)
    #: ``customer_col`` is the customer id as it is (not built by an expression), so
    #: a row where it is blank is ``missing_customer_id`` before any shard sees it.
    direct_customer: bool = True
    #: Input rows, when reading counted them (the row-position pass does).
    n_rows: int | None = None


def _identity(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def read_raw(spark: Any, data: DataConfig) -> SparkRaw:
    """Read the transactions that ``data`` names, with input positions."""
    from functools import partial

    from pyspark.sql import functions as F

    from kizuna.features.adapters import from_cdnow, from_online_retail
    from kizuna.features.column_map import apply_column_map, parse_source, source_columns

    source = data.transactions
    if source is None:
        raise KizunaInputError("this command needs a transactions source (data.transactions)")
    if data.format == "cdnow":
        from kizuna.training.data import _read_cdnow

        # A whitespace-separated text file of a few MB: read once on the driver.
        frame = spark.createDataFrame(_read_cdnow(source).astype("string"))
        frame, n = counted_row_ids(frame)
        return SparkRaw(frame, "customer_id", from_cdnow, {"allow_zero_price": True}, n_rows=n)
    if data.format == "online-retail":
        frame = read_frame(spark, source, string_columns={"InvoiceNo", "StockCode", "Description"})
        frame, n = counted_row_ids(frame)
        options = {"timestamp_format": "%Y-%m-%d %H:%M:%S"}
        return SparkRaw(frame, "CustomerID", from_online_retail, options, n_rows=n)
    column_map = dict(data.column_map) or None
    ids = source_columns(column_map, (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID)) or {
        s.CUSTOMER_ID,
        s.ORDER_ID,
        s.ITEM_ID,
    }
    frame = read_frame(spark, source, string_columns=ids)
    # The column map runs per shard, by the pandas engine's function; checked here once.
    apply_column_map(frame.limit(0).toPandas(), column_map)
    feeds = sorted(source_columns(column_map, (s.CUSTOMER_ID,))) or [s.CUSTOMER_ID]
    key = feeds[0]
    if len(feeds) > 1:  # a customer id built from several columns: shard on all of them
        key = "__customer_key"
        frame = frame.withColumn(key, F.concat_ws("\u0001", *[F.col(c) for c in feeds]))
    adapter = partial(apply_column_map, column_map=column_map) if column_map else _identity
    if key == "__customer_key":
        adapter = partial(_without, key, adapter)
    spec = (column_map or {}).get(s.CUSTOMER_ID)
    direct = spec is None or parse_source(spec, target=s.CUSTOMER_ID).kind == "column"
    frame, n = counted_row_ids(frame)
    return SparkRaw(frame, key, adapter, direct_customer=direct, n_rows=n)


def _without(column: str, adapter: Callable, frame: pd.DataFrame) -> pd.DataFrame:
    return adapter(frame.drop(columns=[column], errors="ignore"))


def read_frame(spark: Any, source: Any, *, string_columns: set[str]) -> Any:
    """A Parquet or CSV path, or a table name, as a Spark DataFrame.

    CSV columns get the types pandas would give them (read from the first
    rows); ``string_columns`` stay text so ids keep their leading zeros.
    """
    from pyspark.sql import functions as F

    text = str(source)
    path = Path(text)
    name = path.name.lower()
    if not path.exists():
        if "/" in text or name.endswith((".csv", ".gz", ".parquet", ".txt")):
            raise KizunaInputError(f"no such file: {path}")
        return spark.table(text)  # a catalogue table (Hive, Unity, ...)
    if name.endswith((".parquet", ".pq")) or path.is_dir():
        return spark.read.parquet(str(path))
    if name.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        sep = "\t" if ".tsv" in name else ","
        sample = pd.read_csv(
            path,
            sep=sep,
            nrows=TYPE_SAMPLE_ROWS,
            dtype={c: "string" for c in string_columns},
            low_memory=False,
        )
        # RFC 4180 quoting, as pandas reads it: a quote inside quotes is doubled.
        frame = spark.read.csv(str(path), sep=sep, header=True, escape='"', inferSchema=False)
        casts = []
        for col in frame.columns:
            dtype = sample[col].dtype if col in sample.columns else None
            if col in string_columns or dtype is None:
                casts.append(F.col(col))
            elif pd.api.types.is_integer_dtype(dtype):
                casts.append(F.col(col).cast("long").alias(col))
            elif pd.api.types.is_float_dtype(dtype):
                casts.append(F.col(col).cast("double").alias(col))
            else:
                casts.append(F.col(col))
        return frame.select(*casts)
    raise KizunaInputError(
        f"cannot tell the file type of {path}; use .csv, .csv.gz, .txt, .parquet or a table name"
    )


def with_row_ids(frame: Any) -> Any:
    """Add ``__row``: the row's position in the input, 0..n-1 in read order."""
    return counted_row_ids(frame)[0]


def counted_row_ids(frame: Any) -> tuple[Any, int]:
    """``frame`` with ``__row`` (see :func:`with_row_ids`), and its row count.

    ``monotonically_increasing_id`` is increasing but has gaps between
    partitions; one pass counts each partition's rows to close them.
    """
    from pyspark.sql import functions as F

    frame = frame.withColumn("__mid", F.monotonically_increasing_id())
    frame = frame.withColumn("__part", F.shiftright(F.col("__mid"), 33))
    counts = sorted(
        (row["__part"], row["count"]) for row in frame.groupBy("__part").count().collect()
    )
    offsets, total = [], 0
    for part, count in counts:
        offsets.append((int(part), total))
        total += count
    spark = frame.sparkSession
    table = spark.createDataFrame(offsets or [(0, 0)], "__part long, __offset long")
    frame = frame.join(F.broadcast(table), on="__part", how="left")
    local = F.col("__mid") - F.shiftleft(F.col("__part"), 33)
    frame = frame.withColumn(ROW, (F.col("__offset") + local).cast("long"))
    return frame.drop("__mid", "__part", "__offset"), total
