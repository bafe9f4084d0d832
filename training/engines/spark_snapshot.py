"""The customer snapshot from the Spark engine's outputs (``kizuna snapshot --engine spark``).

The per-customer parts run on customer shards through the pandas functions
(features: :mod:`training.engines.spark_features`; purchase counts:
:func:`features.interactions.build_interactions` per shard, in
:mod:`training.engines.spark_purchase_counts`); the item side
(categories, names, trending items) is Spark aggregations fed to
:func:`serving.catalogue.build_catalogue`; the served transformers are
fitted on the driver by :func:`training.snapshot_build.write_snapshot_parts`,
as for the pandas engine. The lines file is streamed from range-partitioned,
customer-sorted Spark partitions to the driver one partition at a time
(:func:`training.engines.spark_lines.write_lines`), never collected whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.bundles import ChampionModels
from kizuna.training.engines.spark_lines import write_lines
from kizuna.training.engines.spark_purchase_counts import purchase_counts
from kizuna.training.engines.spark_shards import SHARD
from kizuna.training.snapshot_build import SnapshotParts, btyd_unit


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
    items, customers
        The validated items and customers tables, or None.

    Returns
    -------
    SnapshotParts
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
    from kizuna.training.engines.spark_frames import typed_lines

    features.index = features.index.astype(str)
    if features.empty:
        return features
    first = features.index[0]
    lines = kept.filter(F.col(s.CUSTOMER_ID) == first).toPandas()
    probe = customer_features(
        typed_lines(lines), as_of, customers=customers, items=items, btyd_unit=unit
    )
    for col, dtype in probe.dtypes.items():
        if col in features.columns and not isinstance(dtype, pd.CategoricalDtype):
            if str(features[col].dtype) != str(dtype):
                features[col] = features[col].astype(dtype)
    features.index = features.index.astype(probe.index.astype(str).dtype)
    return features


def line_stats(kept: Any, as_of: pd.Timestamp) -> Any:
    """:class:`serving.catalogue.LineStats` by Spark aggregations (small results).

    Parameters
    ----------
    kept
        The validated lines, a Spark DataFrame.
    as_of
        The snapshot's instant.

    Returns
    -------
    LineStats
    """
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
    """Item names from the lines' ``description`` (as :func:`item_names_from_lines`).

    Parameters
    ----------
    kept
        The validated lines, a Spark DataFrame.

    Returns
    -------
    pandas.Series or None
    """
    from pyspark.sql import functions as F

    from kizuna.serving.catalogue import names_from_counts

    if "description" not in kept.columns:
        return None
    pairs = kept.filter(F.col("description").isNotNull()).groupBy(s.ITEM_ID, "description")
    return names_from_counts(pairs.count().withColumnRenamed("count", "n").toPandas())


def fingerprint(kept: Any, *, source: str, as_of: pd.Timestamp) -> dict[str, Any]:
    """Source, row count, content hash and as_of, as :func:`training.tracking.dataset_fingerprint`.

    The hash is Spark's (xor of each line's xxhash64 with its input
    position), so it differs from the pandas engine's for the same data.

    Parameters
    ----------
    kept
        The validated lines, a Spark DataFrame.
    source
        How the source is named.
    as_of
        The cutoff of the read, or None.

    Returns
    -------
    dict
        ``dataset_source``, ``dataset_rows``, ``dataset_hash``, ``as_of``.
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
    experiment: str | None = None,
) -> tuple[SnapshotParts, int, dict[str, Any]]:
    """Read, validate (with ``experiment``'s stored events) and compute a snapshot's parts on
    Spark.

    Parameters
    ----------
    data
        The experiment's ``data:`` section (or the CLI's source).
    models
        The champion models.
    items, customers
        The validated items and customers tables, or None.
    settings
        Spark settings from the experiment, or None.
    master
        The Spark master, or None for the default.
    quiet
        Whether to hide progress.
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    (SnapshotParts, int, dict)
        The parts, the last stored event ``seq`` included (0 without events)
        and the data fingerprint.
    """
    from kizuna.training.engines.spark_engine import validate
    from kizuna.training.progress import step
    from kizuna.training.snapshot_job import source_name

    validated = validate(data, settings=settings, master=master, quiet=quiet, experiment=experiment)
    with step("features, counts and catalogue of the snapshot on Spark", quiet=quiet):
        parts = snapshot_parts(
            validated.kept, models, items=items, customers=customers, partitions=validated.shards
        )
        stamp = fingerprint(validated.kept, source=source_name(data), as_of=parts.as_of)
    return parts, validated.last_event_seq, stamp
