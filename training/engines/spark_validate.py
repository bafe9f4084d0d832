"""Validation on Spark: every row kept or set aside with a reason, by the pandas validator.

Rows are sharded by a hash of their raw customer id, so that every line of a
customer, and every exact duplicate of a line, lands in one shard; each shard
runs the format adapter and :func:`features.validate.validate_transactions` in
pandas, exactly as the pandas engine runs them on the whole table. Rows without
a customer id (the first reason checked) are set aside without a shuffle. The
global steps are Spark aggregations: the reconciliation totals and the check
that a column as a whole parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.contract import check_coercible, to_number, to_timestamp
from kizuna.features.errors import KizunaInputError
from kizuna.features.validate import REASONS, Reconciliation, validate_transactions
from kizuna.training.engines.spark_io import ROW, SparkRaw
from kizuna.training.engines.spark_session import arrow_safe

SHARD = "__shard"
KIND = "__kind"  # 0 kept, 1 set aside, 2 parse statistics of one column
KEPT, ASIDE, STATS = 0, 1, 2
RAW_PREFIX = "raw__"
STAT_COLUMN, STAT_PRESENT, STAT_BAD = "__stat_column", "__stat_present", "__stat_bad"
MAX_BAD_SHARE = 0.5  # as validate_transactions
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


def shard_key(col: Any, shards: int) -> Any:
    """Shard of a raw customer id: equal after trimming, equal shard."""
    from pyspark.sql import functions as F

    return F.pmod(F.xxhash64(F.trim(col.cast("string"))), F.lit(shards)).cast("int")


def validate(
    raw: SparkRaw,
    *,
    as_of: Any = None,
    data_end: Any = None,
    shards: int = 0,
) -> SparkValidated:
    """Validate every row on Spark; the same reasons and counts as the pandas engine."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    frame = raw.frame
    spark = frame.sparkSession
    n_rows = frame.count()
    if shards <= 0:
        shards = max(spark.sparkContext.defaultParallelism, -(-n_rows // ROWS_PER_SHARD))
    customer = F.col(raw.customer_col)
    # Rows without a customer id get that reason, the first one checked, without a shuffle.
    missing = customer.isNull() | (F.trim(customer.cast("string")) == "")
    if not raw.direct_customer:
        missing = F.lit(False)  # the id is built per shard; the validator decides
    raw_cols = [c for c in frame.columns if c != ROW]
    sample = raw.adapter(frame.limit(0).toPandas()[raw_cols])
    extras = [c for c in sample.columns if c not in KEPT_TYPES and c != s.IS_RETURN]
    aside_cols = list(map(str, sample.columns))  # set-aside rows as the validator saw them
    schema = ", ".join(
        [f"`{c}` {t}" for c, t in KEPT_TYPES.items()]
        + [f"`{c}` string" for c in extras]
        + [f"`{RAW_PREFIX}{c}` string" for c in aside_cols]
        + [f"`{s.REASON}` string", f"`{KIND}` int", f"`{SHARD}` int"]
        + [f"`{STAT_COLUMN}` string", f"`{STAT_PRESENT}` long", f"`{STAT_BAD}` long"]
    )
    kwargs = dict(raw.validate_kwargs, as_of=as_of, data_end=data_end, max_bad_share=1.0)
    adapter = raw.adapter

    def run(shard: pd.DataFrame) -> pd.DataFrame:
        return validate_shard(shard, adapter, raw_cols, extras, kwargs)

    def no_customer_rows(batches: Any) -> Any:
        for batch in batches:
            rows = adapter(batch[raw_cols].reset_index(drop=True))
            out = rows.astype("string").add_prefix(RAW_PREFIX)
            out[s.ROW_ID] = batch[ROW].to_numpy()
            out[s.REASON] = "missing_customer_id"
            yield arrow_safe(out)

    sharded = frame.filter(~missing).withColumn(SHARD, shard_key(customer, shards))
    # One partition per shard: the groupBy below then needs no second exchange.
    sharded = sharded.repartition(shards, SHARD)
    out = sharded.groupBy(SHARD).applyInPandas(run, schema)
    out = out.persist(StorageLevel.DISK_ONLY)
    _check_columns(out)
    aside_schema = ", ".join(
        [f"`{RAW_PREFIX}{c}` string" for c in aside_cols]
        + [f"`{s.ROW_ID}` long", f"`{s.REASON}` string"]
    )
    no_customer = frame.filter(missing).mapInPandas(no_customer_rows, aside_schema)
    kept = out.filter(F.col(KIND) == KEPT).select(*KEPT_TYPES, *extras, SHARD)
    aside = out.filter(F.col(KIND) == ASIDE).select(
        *[RAW_PREFIX + c for c in aside_cols], s.ROW_ID, s.REASON
    )
    set_aside = aside.unionByName(no_customer)
    report = _reconcile(out, n_rows, no_customer.count(), as_of, data_end)
    return SparkValidated(kept=kept, set_aside=set_aside, report=report, shards=shards)


def validate_shard(
    shard: pd.DataFrame,
    adapter: Any,
    raw_cols: list[str],
    extras: list[str],
    kwargs: dict[str, Any],
) -> pd.DataFrame:
    """One shard: adapter and validation, as the pandas engine runs them on the whole table."""
    shard_id = int(shard[SHARD].iloc[0]) if len(shard) else 0
    # Input order, so that the first of a set of duplicates is the one kept, as in pandas.
    shard = shard.sort_values(ROW, kind="stable")
    raw = shard[raw_cols].reset_index(drop=True)
    positions = shard[ROW].to_numpy(dtype=np.int64)
    canonical = adapter(raw)
    validated = validate_transactions(canonical, **kwargs)
    kept = validated.kept
    kept[s.ROW_ID] = positions[kept[s.ROW_ID].to_numpy()]
    for col in extras:
        kept[col] = kept[col].astype("string")
    kept[KIND] = KEPT
    aside = validated.set_aside
    aside_pos = aside[s.ROW_ID].to_numpy()
    aside = aside.drop(columns=[s.ROW_ID, s.REASON]).astype("string").add_prefix(RAW_PREFIX)
    aside[s.ROW_ID] = positions[aside_pos]
    aside[s.REASON] = validated.set_aside[s.REASON].to_numpy()
    aside[KIND] = ASIDE
    rule = kwargs.get("timestamp_rule")
    stats = pd.DataFrame(_parse_stats(canonical, kwargs.get("timestamp_format"), rule))
    stats[KIND] = STATS
    out = pd.concat([kept, aside, stats], ignore_index=True)
    out[SHARD] = shard_id
    columns = [*KEPT_TYPES, *extras, *(RAW_PREFIX + str(c) for c in canonical.columns)]
    columns += [s.REASON, KIND, SHARD, STAT_COLUMN, STAT_PRESENT, STAT_BAD]
    return arrow_safe(out.reindex(columns=columns))


def _parse_stats(
    canonical: pd.DataFrame, fmt: str | None, rule: Any = None
) -> list[dict[str, Any]]:
    """Present and unparseable values per typed column, for the whole-column check."""
    out = []
    for col, parse in (
        (s.TIMESTAMP, lambda v: to_timestamp(v, fmt=fmt, rule=rule)),
        (s.QUANTITY, to_number),
        (s.UNIT_PRICE, to_number),
    ):
        values = canonical[col]
        bad = check_coercible(values, parse(values), column=col, kind="", max_bad_share=1.0)
        present = values.notna()
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            present &= values.astype("string").str.strip().fillna("") != ""
        out.append({STAT_COLUMN: col, STAT_PRESENT: int(present.sum()), STAT_BAD: int(bad.sum())})
    return out


def _check_columns(out: Any) -> None:
    """Fail as the pandas engine does when a column as a whole does not parse."""
    from pyspark.sql import functions as F

    rows = (
        out.filter(F.col(KIND) == STATS)
        .groupBy(STAT_COLUMN)
        .agg(F.sum(STAT_PRESENT).alias("present"), F.sum(STAT_BAD).alias("bad"))
        .collect()
    )
    for row in rows:
        if row["present"] and row["bad"] > MAX_BAD_SHARE * row["present"]:
            kind = "timestamps" if row[STAT_COLUMN] == s.TIMESTAMP else "numbers"
            raise KizunaInputError(
                f"cannot be read as {kind}: {row['bad']:,} of {row['present']:,} values fail",
                column=row[STAT_COLUMN],
            )


def _reconcile(
    out: Any, n_rows: int, no_customer: int, as_of: Any, data_end: Any
) -> Reconciliation:
    from pyspark.sql import functions as F

    counts = {
        (row[KIND], row[s.REASON], row[s.IS_RETURN]): row["n"]
        for row in out.filter(F.col(KIND) != STATS)
        .groupBy(KIND, s.REASON, s.IS_RETURN)
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    }
    aside = {reason: 0 for reason in REASONS}
    aside["missing_customer_id"] += no_customer
    for (kind, reason, _), n in counts.items():
        if kind == ASIDE:
            aside[reason] += n
    returns = sum(n for (kind, _, ret), n in counts.items() if kind == KEPT and ret)
    purchases = sum(n for (kind, _, ret), n in counts.items() if kind == KEPT and not ret)
    report = Reconciliation(
        input_rows=n_rows,
        kept_rows=returns + purchases,
        kept_purchases=purchases,
        kept_returns=returns,
        set_aside={r: n for r, n in aside.items() if n},
        as_of=None if as_of is None else pd.Timestamp(as_of).isoformat(),
        data_end=None if data_end is None else pd.Timestamp(data_end).isoformat(),
    )
    if not report.balanced:
        raise AssertionError(f"row accounting does not balance: {report.to_dict()}")
    return report
