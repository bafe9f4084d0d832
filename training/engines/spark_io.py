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
    #: ``customer_col`` cleaned by :func:`features.contract.ids_to_str` is the customer
    #: id (:mod:`training.engines.spark_keys`), so the customers table can shard on it too.
    id_key: bool = False
    #: The last ``/events`` sequence number among the rows (0: none appended).
    last_event_seq: int = 0
    #: Rows in ``frame`` (None: not counted yet).
    n_rows: int | None = None


def _identity(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def read_raw(
    spark: Any, data: DataConfig, *, with_events: bool = True, experiment: str | None = None
) -> SparkRaw:
    """Read the transactions that ``data`` names, with input positions.

    The experiment's reading settings (``file_format``, ``delimiter``,
    ``header``, ``columns``, the column map and the timestamp rule) apply as
    in the pandas engine (:func:`training.data.read_transactions`). With
    ``with_events``, the lines the service of ``experiment`` stored through ``/events`` follow
    the file's rows (:mod:`training.engines.spark_events`), as in
    :func:`training.data.load_transactions_and_events`.

    Parameters
    ----------
    spark
        The Spark session.
    data
        The experiment's ``data:`` section.
    with_events
        Whether to append the service's stored events.
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    SparkRaw
    """
    raw = _read_source(spark, data)
    if not with_events:
        return raw
    from kizuna.training.engines.spark_events import with_stored_events

    return with_stored_events(raw, data, experiment)


def _read_source(spark: Any, data: DataConfig) -> SparkRaw:
    from functools import partial

    from pyspark.sql import functions as F

    from kizuna.features.adapters import from_cdnow, from_online_retail
    from kizuna.features.column_map import (
        ID_COLUMNS,
        apply_column_map,
        parse_source,
        source_columns,
    )
    from kizuna.training.file_kinds import reading_options
    from kizuna.training.typed_columns import TRANSACTION_NUMBERS, text_sources

    source = data.transactions
    if source is None:
        raise KizunaInputError("this command needs a transactions source (data.transactions)")
    reading = reading_options(data)
    if data.format == "cdnow":
        from kizuna.training.source_formats import read_cdnow

        # A whitespace-separated text file of a few MB: read once on the driver.
        frame, n_rows = with_row_ids(spark.createDataFrame(read_cdnow(source).astype("string")))
        return SparkRaw(frame, "customer_id", from_cdnow, {"allow_zero_price": True}, n_rows=n_rows)
    if data.format == "online-retail":
        if data.column_map:
            raise KizunaInputError(
                "a column_map applies to canonical sources, not to 'online-retail'"
            )
        frame, pending = read_frame(
            spark,
            source,
            string_columns={"InvoiceNo", "StockCode", "Description"},
            reading=reading,
        )
        from kizuna.features.adapters import ONLINE_RETAIL_COLUMNS
        from kizuna.training.source_formats import check_format_columns

        check_format_columns(frame.limit(0).toPandas(), ONLINE_RETAIL_COLUMNS, data.format)
        frame, n_rows = with_row_ids(frame, settle=pending)
        return SparkRaw(
            frame,
            "CustomerID",
            from_online_retail,
            {"timestamp_format": "%Y-%m-%d %H:%M:%S"},
            n_rows=n_rows,
        )
    column_map = dict(data.column_map) or None
    texts = text_sources(column_map, ID_COLUMNS, data.number_rule, TRANSACTION_NUMBERS)
    frame, pending = read_frame(spark, source, string_columns=texts, reading=reading)
    # The column map runs per shard, by the pandas engine's function; checked here once,
    # with the columns the validator needs (a header in capitals named none of them).
    from kizuna.features.contract import require_columns

    empty = apply_column_map(frame.limit(0).toPandas(), column_map)
    require_columns(empty, s.TRANSACTION_REQUIRED, table="transactions")
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
    from kizuna.training.engines.spark_types import settled_rule

    rule = settled_rule(frame, data.timestamp_rule, _time_column(column_map))
    frame, n_rows = with_row_ids(frame, settle=pending)
    kwargs = {"timestamp_rule": rule, "number_rule": data.number_rule}
    return SparkRaw(frame, key, adapter, kwargs, direct_customer=direct, n_rows=n_rows)


def _time_column(column_map: dict | None) -> str | None:
    """The source column the timestamps come from as they are (None: built by an expression)."""
    from kizuna.features.column_map import parse_source

    spec = (column_map or {}).get(s.TIMESTAMP)
    if spec is None:
        return s.TIMESTAMP
    source = parse_source(spec, target=s.TIMESTAMP)
    return source.value if source.kind == "column" else None


def _without(column: str, adapter: Callable, frame: pd.DataFrame) -> pd.DataFrame:
    return adapter(frame.drop(columns=[column], errors="ignore"))


def _spark_reads(path: Path, compression: str | None) -> bool:
    """Whether Spark's own reader reads the file: its codec comes from the name."""
    name = path.name.lower()
    if compression is None:
        return not name.endswith((".gz", ".bz2", ".zip", ".xz", ".zst"))
    return (compression, Path(name).suffix) in (("gzip", ".gz"), ("bz2", ".bz2"))


def read_frame(
    spark: Any,
    source: Any,
    *,
    string_columns: set[str],
    reading: Any = None,
    settle_now: bool = False,
) -> tuple[Any, dict[str, str]]:
    """A table file (as :func:`training.files.read_table` reads it), a folder, or a table name.

    ``reading`` (:class:`training.file_kinds.ReadOptions`) says how to read a file
    whose name does not say. CSV and JSON-lines columns get the types pandas
    would give them (read from the first rows); ``string_columns`` stay text
    so ids keep their leading zeros. The number columns are typed over the
    whole file, as pandas types them (:mod:`training.engines.spark_types`):
    with ``settle_now`` here, else by :func:`with_row_ids` in its pass. A file
    compressed in a way Spark's reader cannot tell from its name is read on
    the driver by the pandas engine's reader.

    Parameters
    ----------
    spark
        The Spark session.
    source
        A file, a folder or a table name.
    string_columns
        Columns to keep as text.
    reading
        How to read a file whose name does not say, or None.
    settle_now
        Whether to type the number columns here.

    Returns
    -------
    tuple
        The frame, and ``{column: kind}`` of the number columns still text, to settle.
    """
    from kizuna.training.engines.spark_session import arrow_safe
    from kizuna.training.file_kinds import ReadOptions, compression_of, file_format_of
    from kizuna.training.files import read_table

    text = str(source)
    path = Path(text)
    name = path.name.lower()
    if not path.exists():
        if "/" in text or name.endswith((".csv", ".gz", ".parquet", ".txt")):
            raise KizunaInputError(f"no such file: {path}")
        return spark.table(text), {}  # a catalogue table (Hive, Unity, ...)
    options = reading or ReadOptions()
    kind = file_format_of(path, options)  # a folder without Parquet files: refused as on pandas
    if path.is_dir():
        return spark.read.parquet(str(path)), {}
    if kind == "parquet":
        return spark.read.parquet(str(path)), {}
    # Spark's CSV reader takes one-character separators, not pandas' whitespace runs,
    # and (Spark 4) only a few charsets: other files are read by pandas on the driver.
    from kizuna.training.engines.spark_session import spark_charset

    charset = spark_charset(options.encoding)
    if (
        options.delimiter == r"\s+"
        or charset is None
        or not _spark_reads(path, compression_of(path))
    ):
        frame = read_table(path, string_columns=string_columns, reading=options)
        return spark.createDataFrame(arrow_safe(frame)), {}
    sample = read_table(
        path, string_columns=string_columns, reading=options, nrows=TYPE_SAMPLE_ROWS
    )
    from kizuna.training.engines.spark_types import as_sampled

    if kind == "jsonl":
        frame = spark.read.json(str(path), encoding=charset)
        order = [c for c in sample.columns if c in frame.columns]
        frame = frame.select(*order, *[c for c in frame.columns if c not in order])
    else:
        sep = options.delimiter or ("\t" if kind == "tsv" else ",")
        from kizuna.training.engines.spark_types import has_line_breaks

        # RFC 4180 quoting, as pandas reads it: a quote inside quotes is doubled. A line
        # break inside quotes (seen in the sample) needs the whole-file reader, which
        # cannot split a file between tasks: only then.
        frame = spark.read.csv(
            str(path),
            sep=sep,
            header=options.header,
            escape='"',
            inferSchema=False,
            encoding=charset,
            multiLine=has_line_breaks(sample),
        )
        if options.columns:
            frame = frame.toDF(*options.columns)
    return as_sampled(
        frame, sample, string_columns, missing_words=kind != "jsonl", settle_now=settle_now
    )


def with_row_ids(frame: Any, *, settle: dict[str, str] | None = None) -> tuple[Any, int]:
    """Add ``__row``: the row's position in the input, 0..n-1 in read order; and n.

    ``monotonically_increasing_id`` is increasing but has gaps between
    partitions; one pass counts each partition's rows to close them. The
    offsets go in as a literal map (no join, no table to ship to the workers).
    The same pass types the ``settle`` text columns as pandas would type them
    over the whole file (:mod:`training.engines.spark_types`).

    Parameters
    ----------
    frame
        A Spark DataFrame.
    settle
        Text columns to type -> their kind, or None.

    Returns
    -------
    frame : pyspark.sql.DataFrame
        With ``__row``.
    n : int
        Its row count.
    """
    from pyspark.sql import functions as F

    from kizuna.training.engines.spark_types import settled_columns, type_flags

    settle = settle or {}
    frame = frame.withColumn("__mid", F.monotonically_increasing_id())
    part = F.shiftright(F.col("__mid"), 33)
    rows = frame.groupBy(part.alias("__part")).agg(F.count("*").alias("count"), *type_flags(settle))
    rows = rows.collect()
    if settle:
        frame = frame.select(*settled_columns(frame, settle, rows))
    counts = sorted((row["__part"], row["count"]) for row in rows)
    offsets, total = [], 0
    for index, count in counts:
        offsets += [F.lit(int(index)), F.lit(total)]
        total += count
    if not offsets:
        return frame.withColumn(ROW, F.col("__mid")).drop("__mid"), 0
    local = F.col("__mid") - F.shiftleft(part, 33)
    row = (F.create_map(*offsets)[part] + local).cast("long")
    return frame.withColumn(ROW, row).drop("__mid"), total
