"""Validation and features in one pass per shard: the raw lines cross to Python once.

``kizuna features --engine spark`` needs the kept lines only to build each
customer's features, so each shard validates its raw lines
(:func:`training.engines.spark_shard_validation.validate_lines`, the pandas
validator) and builds the features of the kept ones
(:func:`features.pipeline.customer_base_features`, ``customer_labels``) in the
same pandas call. What leaves the shard is small: one row per customer, the
set-aside rows, and a few count rows (rows received, kept purchases and
returns, set aside by reason, the whole-column parse statistics), from which
the driver builds the reconciliation. One shuffle (the raw lines, and the
customers table's rows, by cleaned customer id: a partition is a shard), one
persisted result (per customer, reused by the cut points and the writes).
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
    parse_stats,
    reconciliation,
    span_of,
    span_rows,
)
from kizuna.training.engines.spark_customers import SparkCustomers, sharded_customers
from kizuna.training.engines.spark_features import (
    SCORE_INPUTS,
    SparkFeatures,
    scored_features,
    shard_features,
)
from kizuna.training.engines.spark_frames import probe_output, schema_of, to_spark_frame
from kizuna.training.engines.spark_io import SparkRaw
from kizuna.training.engines.spark_shard_validation import (
    ASIDE,
    KIND,
    RAW_PREFIX,
    STATS,
    validate_lines,
)
from kizuna.training.engines.spark_shards import SHARD, shard_of_partition, whole_partition
from kizuna.training.engines.spark_validate import plan_shards

FEATURES, COUNTS = 3, 4  # further kinds of output row: a customer, a count
CUSTOMERS = "__customers"  # count key: the feature rows a shard made


@dataclass
class SparkOnePass:
    """The outcome of :func:`validated_features`."""

    features: SparkFeatures
    set_aside: Any  # Spark frame: raw columns as text (``raw__`` prefix), row_id, reason
    report: Reconciliation
    shards: int
    #: First and last valid purchase (``ValidatedTransactions.span``); None if none.
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None


def validated_features(
    raw: SparkRaw,
    as_of: pd.Timestamp,
    *,
    data_end: Any = None,
    customers: SparkCustomers | None = None,
    items: pd.DataFrame | None = None,
    btyd_unit: str = "W",
    horizon_days: int | None = None,
    lookback_days: int = 365,
    shards: int = 0,
    n_rows: int | None = None,
) -> SparkOnePass:
    """Validate every line and build every customer's features (and labels) on Spark.

    Same results as :func:`training.engines.spark_validate.validate` followed by
    :func:`training.engines.spark_features.customer_features`, in one pass.
    Lines at or after ``as_of + horizon_days`` (or ``as_of``) are set aside, as
    the pandas engine does. Each shard gets only its own rows of ``customers``
    (cogrouped by the shard of the cleaned customer id); ``items``, small, goes
    to every shard.

    Parameters
    ----------
    raw
        The raw lines read on Spark.
    as_of
        The snapshot's instant.
    data_end
        The data's end, or None.
    customers
        The customers table on Spark, or None.
    items
        The validated items table, or None.
    btyd_unit
        ``"W"`` or ``"D"``.
    horizon_days
        The label window, or None for no labels.
    lookback_days
        Activity window of the labelled population.
    shards
        Number of shards (0: from the size).
    n_rows
        The input's row count, if known.

    Returns
    -------
    SparkOnePass
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    window_end = as_of if horizon_days is None else as_of + pd.Timedelta(days=horizon_days)
    plan = plan_shards(raw, as_of=window_end, data_end=data_end, shards=shards, n_rows=n_rows)
    spark = plan.lines.sparkSession
    tables = spark.sparkContext.broadcast(items)
    adapter, raw_cols, kwargs = plan.adapter, plan.raw_cols, plan.kwargs
    aside_cols = [RAW_PREFIX + c for c in plan.aside_cols]
    customers_of = None if customers is None else customers.shard_validator()

    def run(shard: pd.DataFrame, rows: pd.DataFrame | None = None) -> pd.DataFrame:
        cust = None if rows is None else customers_of(rows)
        validated, aside, canonical = validate_lines(shard, adapter, raw_cols, kwargs)
        feats = shard_features(
            validated.kept, as_of, cust, tables.value, btyd_unit, horizon_days, lookback_days
        )
        feats[KIND] = FEATURES
        # Missing values in the other kinds of row must not turn counts into floats.
        nullable = {c: _nullable(t) for c, t in feats.dtypes.items() if _nullable(t)}
        aside = aside.reindex(columns=[*aside_cols, s.ROW_ID, s.REASON])
        aside[KIND] = ASIDE
        report = validated.report
        counts = [
            {STAT_COLUMN: INPUT, STAT_PRESENT: len(shard)},
            {STAT_COLUMN: PURCHASES, STAT_PRESENT: report.kept_purchases},
            {STAT_COLUMN: RETURNS, STAT_PRESENT: report.kept_returns},
            {STAT_COLUMN: CUSTOMERS, STAT_PRESENT: len(feats)},
            *({STAT_COLUMN: r, STAT_PRESENT: n} for r, n in report.set_aside.items()),
        ]
        counts = pd.DataFrame([*counts, *span_rows(validated)]).assign(
            **{STAT_BAD: 0, KIND: COUNTS}
        )
        stats = pd.DataFrame(parse_stats(canonical, kwargs))
        stats[KIND] = STATS
        out = pd.concat([feats, aside, counts, stats], ignore_index=True).astype(nullable)
        out[SHARD] = shard_of_partition()
        for col in (s.ROW_ID, STAT_PRESENT, STAT_BAD):
            out[col] = out[col].astype("Int64")
        for col in (KIND, SHARD):
            out[col] = out[col].astype("int32")
        out[STAT_COLUMN] = out[STAT_COLUMN].astype("string")
        for col in (*aside_cols, s.REASON):
            out[col] = out[col].astype("string")
        return to_spark_frame(out.set_index(s.CUSTOMER_ID))

    floats = (*SCORE_INPUTS, s.FUTURE_VALUE)
    if customers is None:

        def run_partition(batches: Any) -> Any:
            # A partition is a shard: all of it at once, as the validator needs every
            # line of a customer (no group-by, so no sort of the lines by shard first).
            shard = whole_partition(batches)
            if shard is not None:
                yield run(shard)

        probe = probe_output(plan.lines, run)
        out = plan.by_customer.mapInPandas(run_partition, schema_of(probe, floats=floats))
    else:
        # The customers table's rows meet their lines by the shard of the cleaned id;
        # both sides are partitioned one shard per partition, so the cogroup needs no
        # further shuffle.
        table = sharded_customers(customers, plan.shards)
        sample = customers.frame.limit(2_000).toPandas()  # not ``table``: that would shuffle
        probe = probe_output(plan.lines, lambda lines: run(lines, sample))

        def cogrouped(lines: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
            # A shard of customers without lines has nothing to report.
            return run(lines, rows) if len(lines) else pd.DataFrame()

        grouped = plan.sharded.groupBy(SHARD).cogroup(table.groupBy(SHARD))
        out = grouped.applyInPandas(cogrouped, schema_of(probe, floats=floats))
    out = out.persist(StorageLevel.MEMORY_AND_DISK)  # one row a customer: small
    small = out.filter(F.col(KIND).isin(COUNTS, STATS)).select(
        KIND, STAT_COLUMN, STAT_PRESENT, STAT_BAD
    )
    counts: dict[str, int] = {}
    parse: dict[str, tuple[int, int]] = {}
    for row in small.collect():  # a few rows per shard; this job runs the pass
        col, present, bad = row[STAT_COLUMN], int(row[STAT_PRESENT]), int(row[STAT_BAD])
        if row[KIND] == COUNTS and col in (FIRST_NS, LAST_NS):
            pick = min if col == FIRST_NS else max
            counts[col] = pick(counts.get(col, present), present)
        elif row[KIND] == COUNTS:
            counts[col] = counts.get(col, 0) + present
        else:
            old = parse.get(col, (0, 0))
            parse[col] = (old[0] + present, old[1] + bad)
    check_parse_totals(parse)
    n_customers = counts.pop(CUSTOMERS, 0)
    span = span_of(counts.pop(FIRST_NS, None), counts.pop(LAST_NS, None))
    report = reconciliation(counts, window_end, data_end)
    customer_rows = out.filter(F.col(KIND) == FEATURES).drop(KIND, *aside_cols, s.ROW_ID)
    customer_rows = customer_rows.drop(s.REASON, STAT_COLUMN, STAT_PRESENT, STAT_BAD)
    # The count the scores need is at hand: no further job.
    features = scored_features(customer_rows, horizon_days is not None, n=n_customers)
    set_aside = out.filter(F.col(KIND) == ASIDE).select(*aside_cols, s.ROW_ID, s.REASON)
    return SparkOnePass(
        features=features, set_aside=set_aside, report=report, shards=plan.shards, span=span
    )


def _nullable(dtype: Any) -> str | None:
    """The nullable pandas dtype that keeps an integer or boolean column's Spark type."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "Int64" if dtype.itemsize == 8 else f"Int{dtype.itemsize * 8}"
    return None
