"""The customer snapshot from the Spark engine's outputs (``kizuna snapshot --engine spark``).

The per-customer parts run on customer shards through the pandas functions
(features: :mod:`training.engines.spark_features`; purchase counts:
:func:`features.interactions.build_interactions` per shard); the item side
(categories, names, trending items) is Spark aggregations fed to
:func:`serving.catalogue.build_catalogue`; the served transformers are
fitted on the driver by :func:`training.snapshot_build.write_snapshot_parts`,
as for the pandas engine. The lines file is streamed from range-partitioned,
customer-sorted Spark partitions to the driver one partition at a time
(:func:`write_lines`), never collected whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.bundles import ChampionModels
from kizuna.training.engines.spark_validate import SHARD
from kizuna.training.snapshot_build import SnapshotParts, btyd_unit, count_params

#: Lines per Arrow chunk sent from an executor to the driver.
CHUNK_ROWS = 1 << 18
COUNTS_SCHEMA = "users array<string>, indptr binary, indices binary, data binary, dtype string"
CHUNK_SCHEMA = "part int, chunk int, payload binary"


def snapshot_parts(
    kept: Any,
    models: ChampionModels,
    *,
    items: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    partitions: int = 0,
) -> SnapshotParts:
    """The engine-computed parts of a snapshot of the validated lines ``kept``.

    Parameters
    ----------
    kept
        Spark DataFrame of validated lines with ``__shard``
        (:func:`training.engines.spark_validate.validate`).
    models
        The served model set (item map, interaction settings, BTYD unit).
    partitions
        Range partitions of the lines file (0: the shard count's worth).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from kizuna.serving.catalogue import build_catalogue
    from kizuna.training.engines.spark_features import customer_features, to_pandas_features

    kept = kept.persist(StorageLevel.DISK_ONLY)
    last = kept.agg(F.max(s.TIMESTAMP), F.max(F.when(~F.col(s.IS_RETURN), 1))).collect()[0]
    if last[0] is None or last[1] is None:
        raise KizunaInputError("the data source holds no purchases: nothing to serve")
    as_of = pd.Timestamp(last[0]).floor("D") + pd.Timedelta(days=1)
    result = customer_features(
        kept, as_of, customers=customers, items=items, btyd_unit=btyd_unit(models)
    )
    sharded = result.sharded.persist(StorageLevel.DISK_ONLY)
    features = to_pandas_features(sharded.drop(SHARD), customers)
    features = _as_pandas_engine(features, kept, as_of, customers, items, btyd_unit(models))
    rec = models.recommender
    catalogue = build_catalogue(
        line_stats(kept, as_of),
        as_of,
        item_ids=None if rec is None else rec.item_ids,
        items=items,
        recommender=rec,
        line_names=line_names(kept),
    )
    counts = purchase_counts(kept, sharded, features.index, as_of, catalogue.item_ids, models)
    n_parts = partitions or kept.sparkSession.sparkContext.defaultParallelism
    return SnapshotParts(
        as_of, features, catalogue, counts, lambda f: write_lines(kept, f, n_parts)
    )


def _as_pandas_engine(
    features: pd.DataFrame,
    kept: Any,
    as_of: pd.Timestamp,
    customers: pd.DataFrame | None,
    items: pd.DataFrame | None,
    unit: str,
) -> pd.DataFrame:
    """``features`` with the dtypes the pandas engine gives them (e.g. text as ``string``).

    The dtypes are read off :func:`features.pipeline.customer_features` run on
    the driver on one customer's lines.
    """
    from pyspark.sql import functions as F

    from kizuna.features.pipeline import customer_features
    from kizuna.training.engines.spark_features import _typed

    features.index = features.index.astype(str)
    if features.empty:
        return features
    first = features.index[0]
    lines = kept.filter(F.col(s.CUSTOMER_ID) == first).toPandas()
    probe = customer_features(
        _typed(lines), as_of, customers=customers, items=items, btyd_unit=unit
    )
    for col, dtype in probe.dtypes.items():
        if col in features.columns and not isinstance(dtype, pd.CategoricalDtype):
            if str(features[col].dtype) != str(dtype):
                features[col] = features[col].astype(dtype)
    features.index = features.index.astype(probe.index.astype(str).dtype)
    return features


def line_stats(kept: Any, as_of: pd.Timestamp) -> Any:
    """:class:`serving.catalogue.LineStats` by Spark aggregations (small results)."""
    from pyspark.sql import functions as F

    from kizuna.serving.catalogue import TRENDING_DAYS, LineStats

    purchases = kept.filter(~F.col(s.IS_RETURN))
    purchased = purchases.select(s.ITEM_ID).distinct().toPandas()[s.ITEM_ID]
    counts = None
    if s.CATEGORY in kept.columns:
        pairs = purchases.filter(F.col(s.CATEGORY).isNotNull()).groupBy(s.ITEM_ID, s.CATEGORY)
        counts = pairs.count().withColumnRenamed("count", "n").toPandas()
    since = (as_of - pd.Timedelta(days=TRENDING_DAYS)).to_pydatetime()
    recent = (
        purchases.filter(F.col(s.TIMESTAMP) >= F.lit(since).cast("timestamp_ntz"))
        .select(s.ITEM_ID, s.CUSTOMER_ID)
        .distinct()
        .groupBy(s.ITEM_ID)
        .count()
        .toPandas()
    )
    return LineStats(
        purchased=pd.Index(purchased.astype(str).to_numpy(dtype=object)),
        category_counts=counts,
        recent=pd.Series(
            recent["count"].to_numpy(dtype=np.int64),
            index=recent[s.ITEM_ID].astype(str).to_numpy(dtype=object),
        ),
    )


def line_names(kept: Any) -> pd.Series | None:
    """Item names from the lines' ``description`` (as :func:`item_names_from_lines`)."""
    from pyspark.sql import functions as F

    from kizuna.serving.catalogue import names_from_counts

    if "description" not in kept.columns:
        return None
    pairs = kept.filter(F.col("description").isNotNull()).groupBy(s.ITEM_ID, "description")
    return names_from_counts(pairs.count().withColumnRenamed("count", "n").toPandas())


def shard_counts(
    tx: pd.DataFrame, users: pd.Index, as_of: pd.Timestamp, item_ids: pd.Index, params: dict
) -> sp.csr_matrix:
    """Purchase counts of one shard's customers ``users`` (rows in that order)."""
    from kizuna.features.interactions import build_interactions
    from kizuna.training.engines.spark_features import _typed

    return build_interactions(
        _typed(tx), as_of, weighting="count", user_ids=users, item_ids=item_ids, **params
    ).matrix


def purchase_counts(
    kept: Any,
    sharded: Any,
    users: pd.Index,
    as_of: pd.Timestamp,
    item_ids: pd.Index,
    models: ChampionModels,
) -> sp.csr_matrix:
    """The (n_customers, n_items) count matrix, by shard, rows in the order of ``users``."""
    params = count_params(models)
    cols = list(kept.columns)

    def counts(tx: pd.DataFrame, feats: pd.DataFrame) -> pd.DataFrame:
        ids = pd.Index(np.sort(feats[s.CUSTOMER_ID].astype(str).to_numpy(dtype=object)))
        matrix = sp.csr_matrix(shard_counts(tx[cols], ids, as_of, item_ids, params))
        return pd.DataFrame(
            {
                "users": [ids.to_numpy(dtype=object)],
                "indptr": [matrix.indptr.astype(np.int64).tobytes()],
                "indices": [matrix.indices.astype(np.int64).tobytes()],
                "data": [matrix.data.tobytes()],
                "dtype": [str(matrix.data.dtype)],
            }
        )

    grouped = kept.groupBy(SHARD).cogroup(sharded.select(s.CUSTOMER_ID, SHARD).groupBy(SHARD))
    blocks, ids = [], []
    for row in grouped.applyInPandas(counts, COUNTS_SCHEMA).collect():
        n = len(row["users"])
        data = np.frombuffer(row["data"], dtype=row["dtype"])
        indices = np.frombuffer(row["indices"], dtype=np.int64)
        indptr = np.frombuffer(row["indptr"], dtype=np.int64)
        blocks.append(sp.csr_matrix((data, indices, indptr), shape=(n, len(item_ids))))
        ids.extend(row["users"])
    order = pd.Index(ids).get_indexer(users)
    if len(ids) != len(users) or (order < 0).any():
        raise AssertionError("the shards' customers differ from the feature frame's")
    if not blocks:
        return sp.csr_matrix((0, len(item_ids)))
    return sp.csr_matrix(sp.vstack(blocks, format="csr")[order])


def write_lines(kept: Any, folder: Path, partitions: int, *, chunk_rows: int = CHUNK_ROWS) -> int:
    """Write ``transactions.arrow`` and its index from Spark; return the line count.

    The lines are range-partitioned by customer and sorted within partitions
    by customer and input position (the pandas engine's stable sort); each
    partition is encoded to Arrow chunks on its executor, and the driver pulls
    one partition at a time (``toLocalIterator``) and appends its chunks.
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


def fingerprint(kept: Any, *, source: str, as_of: pd.Timestamp) -> dict[str, Any]:
    """Source, row count, content hash and as_of, as :func:`training.tracking.dataset_fingerprint`.

    The hash is Spark's (xor of each line's xxhash64 with its input
    position), so it differs from the pandas engine's for the same data.
    """
    from pyspark.sql import functions as F

    row = kept.agg(
        F.count(F.lit(1)).alias("n"),
        F.bit_xor(F.xxhash64(*[F.col(c) for c in kept.columns if c != SHARD])).alias("h"),
    ).collect()[0]
    return {
        "dataset_source": source,
        "dataset_rows": int(row["n"]),
        "dataset_hash": f"spark-{int(row['h'] or 0) & (2**64 - 1):016x}",
        "as_of": str(pd.Timestamp(as_of).date()),
    }


def prepare(
    data: Any,
    models: ChampionModels,
    *,
    items: pd.DataFrame | None,
    customers: pd.DataFrame | None,
    settings: dict | None = None,
    master: str | None = None,
    quiet: bool = False,
) -> tuple[SnapshotParts, int, dict[str, Any]]:
    """Read, validate and compute a snapshot's parts on Spark.

    Returns
    -------
    (SnapshotParts, int, dict)
        The parts, the last stored event ``seq`` included (0 without events)
        and the data fingerprint.
    """
    from kizuna.training.engines.spark_io import read_raw
    from kizuna.training.engines.spark_session import spark_session
    from kizuna.training.engines.spark_validate import validate
    from kizuna.training.progress import step
    from kizuna.training.snapshot_job import source_name

    settings = settings or {}
    with step("starting Spark", quiet=quiet):
        spark = spark_session(settings, master=master)
    with step(f"reading {data.transactions} ({data.format}) with Spark", quiet=quiet):
        raw = read_raw(spark, data)
    with step("validating by customer shard", quiet=quiet):
        validated = validate(raw, data_end=data.data_end, shards=int(settings.get("shards") or 0))
    with step("features, counts and catalogue of the snapshot on Spark", quiet=quiet):
        parts = snapshot_parts(
            validated.kept, models, items=items, customers=customers, partitions=validated.shards
        )
        stamp = fingerprint(validated.kept, source=source_name(data), as_of=parts.as_of)
    return parts, raw.last_event_seq, stamp
