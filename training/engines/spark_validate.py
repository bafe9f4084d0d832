"""Validation on Spark: every row kept or set aside with a reason, by the pandas validator.

Rows are hash-partitioned on their cleaned customer id
(:mod:`training.engines.spark_keys`), so that every line of a customer, and
every exact duplicate of a line, lands in one partition, and each partition is
one shard: it runs the format adapter and
:func:`features.validate.validate_transactions` in pandas, exactly as the
pandas engine runs them on the whole table
(:mod:`training.engines.spark_shard_validation`). Rows without a customer id (the
first reason checked) spread over the shards by input position. The global
steps are Spark aggregations: the reconciliation totals and the check that a
column as a whole parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.reconciliation import Reconciliation
from kizuna.training.engines.spark_counts import (
    FIRST_NS,
    INPUT,
    LAST_NS,
    PURCHASES,
    RETURNS,
    STAT_BAD,
    STAT_COLUMN,
    STAT_PRESENT,
    check_parse_totals,
    reconciliation,
    span_of,
)
from kizuna.training.engines.spark_io import ROW, SparkRaw
from kizuna.training.engines.spark_shard_validation import (
    ASIDE,
    KEPT,
    KEPT_TYPES,
    KIND,
    RAW_PREFIX,
    STATS,
    validate_shard,
)
from kizuna.training.engines.spark_shards import SHARD, shard_key

ROWS_PER_SHARD = 500_000


@dataclass
class SparkValidated:
    """The outcome of :func:`validate`: Spark frames and the reconciliation.

    ``kept`` has the canonical typed columns (extras as text) and ``__shard``;
    ``set_aside`` the raw columns as text, ``row_id`` and ``reason``.
    """

    kept: Any
    set_aside: Any
    report: Reconciliation
    shards: int
    last_event_seq: int = 0  # the last stored ``/events`` line among the rows (0: none)
    #: First and last valid purchase (``ValidatedTransactions.span``); None if none.
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None


@dataclass
class ShardPlan:
    """How the raw lines are sharded and what each shard's validation needs."""

    lines: Any  # the raw lines (with the cleaned id where it needs Python), not shuffled
    #: Spark column: the partition key of a line, its cleaned customer id (lines
    #: without one: their input position, so that they spread evenly).
    spread: Any
    #: ``lines`` hash-partitioned on ``spread``: every line of a customer in one of
    #: ``shards`` partitions of near-equal size; a partition is a shard.
    by_customer: Any
    #: ``lines`` with ``__shard`` (:func:`shard_key` of ``spread``), one partition per
    #: shard: for a cogroup by shard with a table partitioned the same way.
    sharded: Any
    shards: int
    raw_cols: list[str]
    extras: list[str]  # non-canonical columns kept rows carry along
    aside_cols: list[str]  # set-aside rows' columns, as the validator saw them
    kwargs: dict[str, Any]  # for validate_transactions
    adapter: Any


def plan_shards(
    raw: SparkRaw, *, as_of: Any, data_end: Any, shards: int, n_rows: int | None = None
) -> ShardPlan:
    """Shard the raw lines by cleaned customer id; rows without one spread by position.

    ``shards`` (0: one per :data:`ROWS_PER_SHARD` input rows, in whole rounds of
    the cores) from ``n_rows``, else the count the reader made, else a count.

    Parameters
    ----------
    raw
        The raw lines read on Spark, with their reading options.
    as_of
        The read's cutoff, or None.
    data_end
        The data's end, or None.
    shards
        Number of shards (0: from the size).
    n_rows
        The input's row count, if known.

    Returns
    -------
    ShardPlan
    """
    from pyspark.sql import functions as F

    from kizuna.training.engines.spark_keys import customer_key

    raw, key = customer_key(raw)
    frame = raw.frame
    spark = frame.sparkSession
    cores = spark.sparkContext.defaultParallelism
    if shards <= 0:
        if n_rows is None:
            n_rows = getattr(raw, "n_rows", None) or frame.count()
        shards = max(cores, -(-n_rows // ROWS_PER_SHARD))
        shards = -(-shards // cores) * cores  # whole rounds of the cores, no lone last shard
    raw_cols = [c for c in frame.columns if c != ROW]
    sample = raw.adapter(frame.limit(0).toPandas()[raw_cols])
    extras = [c for c in sample.columns if c not in KEPT_TYPES and c != s.IS_RETURN]
    kwargs = dict(raw.validate_kwargs, as_of=as_of, data_end=data_end, max_bad_share=1.0)
    # A row without a customer id is set aside for that reason, the first one checked,
    # in whichever shard it lands: spreading them by position keeps shards even.
    # Partitioning on the ids themselves, not on a shard number computed from them,
    # makes each partition one shard of near-equal size (hashing shard numbers
    # again would leave some partitions empty and others with several shards).
    spread = F.when(key.isNull(), F.col(ROW).cast("string")).otherwise(key)
    return ShardPlan(
        lines=frame,
        spread=spread,
        by_customer=frame.repartition(shards, spread),
        sharded=frame.withColumn(SHARD, shard_key(spread, shards)).repartition(shards, SHARD),
        shards=shards,
        raw_cols=raw_cols,
        extras=extras,
        aside_cols=list(map(str, sample.columns)),
        kwargs=kwargs,
        adapter=raw.adapter,
    )


def validate(
    raw: SparkRaw,
    *,
    as_of: Any = None,
    data_end: Any = None,
    shards: int = 0,
) -> SparkValidated:
    """Validate every row on Spark; the same reasons and counts as the pandas engine.

    ``kept`` is hash-partitioned by ``__shard`` (:func:`~training.engines.spark_shards.even_shard_numbers`: one
    shard a partition), so grouping or cogrouping it by shard needs no shuffle.

    Parameters
    ----------
    raw
        The raw lines read on Spark, with their reading options.
    as_of
        Set aside rows at or after this instant; None keeps all.
    data_end
        The data's end, or None.
    shards
        Number of shards (0: from the size).

    Returns
    -------
    SparkValidated
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    plan = plan_shards(raw, as_of=as_of, data_end=data_end, shards=shards)
    extras, aside_cols = plan.extras, plan.aside_cols
    schema = ", ".join(
        [f"`{c}` {t}" for c, t in KEPT_TYPES.items()]
        + [f"`{c}` string" for c in extras]
        + [f"`{RAW_PREFIX}{c}` string" for c in aside_cols]
        + [f"`{s.REASON}` string", f"`{KIND}` int", f"`{SHARD}` int"]
        + [f"`{STAT_COLUMN}` string", f"`{STAT_PRESENT}` long", f"`{STAT_BAD}` long"]
    )
    adapter, raw_cols, kwargs = plan.adapter, plan.raw_cols, plan.kwargs

    def run(shard: pd.DataFrame) -> pd.DataFrame:
        shard_id = int(shard[SHARD].iloc[0]) if len(shard) else 0
        return validate_shard(shard, adapter, raw_cols, extras, kwargs, shard_id)

    # By shard, not per partition: ``kept`` then stays partitioned by ``__shard`` as
    # Spark knows it, so the features and the cogroups by shard after it need no shuffle.
    out = plan.sharded.groupBy(SHARD).applyInPandas(run, schema)
    out = out.persist(StorageLevel.DISK_ONLY)
    n_rows, span = _check_columns(out)
    kept = out.filter(F.col(KIND) == KEPT).select(*KEPT_TYPES, *extras, SHARD)
    set_aside = out.filter(F.col(KIND) == ASIDE).select(
        *[RAW_PREFIX + c for c in aside_cols], s.ROW_ID, s.REASON
    )
    report = _reconcile(out, n_rows, as_of, data_end)
    return SparkValidated(
        kept=kept,
        set_aside=set_aside,
        report=report,
        shards=plan.shards,
        last_event_seq=raw.last_event_seq,
        span=span,
    )


def _check_columns(out: Any) -> tuple[int, tuple[pd.Timestamp, pd.Timestamp] | None]:
    """Fail as the pandas engine does when a column as a whole does not parse.

    Returns the number of rows the shards received, and the span of the valid purchases.
    """
    from pyspark.sql import functions as F

    rows = (
        out.filter(F.col(KIND) == STATS)
        .groupBy(STAT_COLUMN)
        .agg(
            F.sum(STAT_PRESENT).alias("present"),
            F.sum(STAT_BAD).alias("bad"),
            F.min(STAT_PRESENT).alias("lo"),
            F.max(STAT_PRESENT).alias("hi"),
        )
        .collect()
    )
    totals = {row[STAT_COLUMN]: (row["present"], row["bad"]) for row in rows}
    ends = {row[STAT_COLUMN]: (row["lo"], row["hi"]) for row in rows}
    span = span_of(ends[FIRST_NS][0], ends[LAST_NS][1]) if FIRST_NS in ends else None
    check_parse_totals({c: v for c, v in totals.items() if c not in (INPUT, FIRST_NS, LAST_NS)})
    return (totals[INPUT][0] if INPUT in totals else 0), span


def _reconcile(out: Any, n_rows: int, as_of: Any, data_end: Any) -> Reconciliation:
    from pyspark.sql import functions as F

    counts = {}
    for row in (
        out.filter(F.col(KIND) != STATS)
        .groupBy(KIND, s.REASON, s.IS_RETURN)
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    ):
        if row[KIND] == ASIDE:
            key = row[s.REASON]
        else:
            key = RETURNS if row[s.IS_RETURN] else PURCHASES
        counts[key] = counts.get(key, 0) + row["n"]
    counts[INPUT] = n_rows
    return reconciliation(counts, as_of, data_end)
