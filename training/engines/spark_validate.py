"""Validation on Spark: every row kept or set aside with a reason, by the pandas validator.

Rows are hash-partitioned on their cleaned customer id
(:mod:`training.engines.spark_keys`), so that every line of a customer, and
every exact duplicate of a line, lands in one partition, and each partition is
one shard: it runs the format adapter and
:func:`features.validate.validate_transactions` in pandas, exactly as the
pandas engine runs them on the whole table. Rows without a customer id (the
first reason checked) spread over the shards by input position. The global
steps are Spark aggregations: the reconciliation totals and the check that a
column as a whole parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.reconciliation import Reconciliation
from kizuna.features.validate import validate_transactions
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
    parse_stats,
    reconciliation,
    span_of,
    span_rows,
)
from kizuna.training.engines.spark_events import STORED_FROM
from kizuna.training.engines.spark_io import ROW, SparkRaw
from kizuna.training.engines.spark_session import arrow_safe
from kizuna.training.engines.spark_shards import SHARD, shard_key

KIND = "__kind"  # 0 kept, 1 set aside, 2 parse statistics of one column
KEPT, ASIDE, STATS = 0, 1, 2
RAW_PREFIX = "raw__"
ROWS_PER_SHARD = 500_000
KEPT_TYPES = {
    s.CUSTOMER_ID: "string",
    s.ORDER_ID: "string",
    s.ITEM_ID: "string",
    s.TIMESTAMP: "timestamp_ntz",
    s.QUANTITY: "double",
    s.UNIT_PRICE: "double",
    s.REVENUE: "double",
    s.IS_RETURN: "boolean",
    s.ROW_ID: "long",
}


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


def validate_lines(
    shard: pd.DataFrame, adapter: Any, raw_cols: list[str], kwargs: dict[str, Any]
) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """One shard's raw lines through the adapter and the validator, as pandas runs them.

    Returns the :class:`features.reconciliation.ValidatedTransactions` (row ids are
    input positions), the set-aside rows in the Spark layout (text columns
    prefixed ``raw__``, ``row_id``, ``reason``) and the canonical frame.

    Parameters
    ----------
    shard
        One shard's raw lines, shape (n, k).
    adapter
        The source format's adapter.
    raw_cols
        The raw columns, in order.
    kwargs
        The validation options (timestamp and number rules).

    Returns
    -------
    validated : ValidatedTransactions
    set_aside : pandas.DataFrame
        In the Spark layout.
    canonical : pandas.DataFrame
        The canonical frame.
    """
    # Input order, so that the first of a set of duplicates is the one kept, as in pandas.
    shard = shard.sort_values(ROW, kind="stable")
    raw = shard[raw_cols].reset_index(drop=True)
    positions = shard[ROW].to_numpy(dtype=np.int64)
    canonical = adapter(raw)
    kwargs = dict(kwargs)
    stored_from = kwargs.pop(STORED_FROM, None)
    if stored_from is not None:  # the events appended after the file's rows
        kwargs["stored_rows"] = positions >= stored_from
    validated = validate_transactions(canonical, **kwargs)
    validated.kept[s.ROW_ID] = positions[validated.kept[s.ROW_ID].to_numpy()]
    aside = validated.set_aside
    aside_pos = aside[s.ROW_ID].to_numpy()
    rows = aside.drop(columns=[s.ROW_ID, s.REASON]).astype("string").add_prefix(RAW_PREFIX)
    rows[s.ROW_ID] = positions[aside_pos]
    rows[s.REASON] = aside[s.REASON].to_numpy()
    return validated, rows, canonical


def validate_shard(
    shard: pd.DataFrame,
    adapter: Any,
    raw_cols: list[str],
    extras: list[str],
    kwargs: dict[str, Any],
    shard_id: int,
) -> pd.DataFrame:
    """One shard: adapter and validation, as the pandas engine runs them on the whole table.

    Parameters
    ----------
    shard
        One shard's raw lines, shape (n, k).
    adapter
        The source format's adapter.
    raw_cols
        The raw columns, in order.
    extras
        Extra columns carried along.
    kwargs
        The validation options (timestamp and number rules).
    shard_id
        The shard's number.

    Returns
    -------
    pandas.DataFrame
        The shard's kept and set-aside rows with their counts, in the Spark layout.
    """
    validated, aside, canonical = validate_lines(shard, adapter, raw_cols, kwargs)
    kept = validated.kept
    for col in extras:
        kept[col] = kept[col].astype("string")
    kept[KIND] = KEPT
    aside[KIND] = ASIDE
    stats = parse_stats(canonical, kwargs)
    stats.append({STAT_COLUMN: INPUT, STAT_PRESENT: len(shard), STAT_BAD: 0})
    stats += span_rows(validated)
    stats = pd.DataFrame(stats)
    stats[KIND] = STATS
    out = pd.concat([kept, aside, stats], ignore_index=True)
    out[SHARD] = shard_id
    columns = [*KEPT_TYPES, *extras, *(RAW_PREFIX + str(c) for c in canonical.columns)]
    columns += [s.REASON, KIND, SHARD, STAT_COLUMN, STAT_PRESENT, STAT_BAD]
    return arrow_safe(out.reindex(columns=columns))


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
