"""The Spark engine behind ``kizuna validate|features --engine spark``.

Reads the source with Spark, validates and builds features by shard
(:mod:`training.engines.spark_validate`, :mod:`training.engines.spark_features`)
and writes Parquet folders that Spark and pandas both read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.training.config import DataConfig
from kizuna.training.progress import step


def validate(
    data: DataConfig,
    *,
    as_of: Any = None,
    settings: dict | None = None,
    master: str | None = None,
    quiet: bool = False,
) -> Any:
    """Read and validate ``data`` on Spark; a :class:`SparkValidated`."""
    from kizuna.training.engines.spark_io import read_raw
    from kizuna.training.engines.spark_session import spark_session
    from kizuna.training.engines.spark_validate import validate as validate_spark

    settings = settings or {}
    with step("starting Spark", quiet=quiet):
        spark = spark_session(settings, master=master)
    with step(f"reading {data.transactions} ({data.format}) with Spark", quiet=quiet):
        raw = read_raw(spark, data)
    with step("validating by customer shard", quiet=quiet):
        return validate_spark(
            raw, as_of=as_of, data_end=data.data_end, shards=int(settings.get("shards") or 0)
        )


def write_set_aside(set_aside: Any, path: Path) -> None:
    """The set-aside rows as a Parquet folder (text columns, ``row_id``, ``reason``)."""
    from kizuna.training.engines.spark_validate import RAW_PREFIX

    renamed = set_aside.toDF(
        *[c[len(RAW_PREFIX) :] if c.startswith(RAW_PREFIX) else c for c in set_aside.columns]
    )
    renamed.write.mode("overwrite").parquet(str(path))


def features(
    data: DataConfig,
    as_of: pd.Timestamp,
    *,
    horizon: int | None,
    lookback: int,
    out: Path,
    settings: dict | None = None,
    master: str | None = None,
    quiet: bool = False,
) -> tuple[dict, pd.DataFrame | None, dict]:
    """Validate, build features (and labels) on Spark and write them under ``out``.

    Writes ``features.parquet``, ``labels.parquet``, ``set_aside.parquet``
    (Parquet folders) and ``reconciliation.json``, as the pandas engine.

    Returns
    -------
    (dict, None, dict)
        The reconciliation, None (the frame stays on Spark) and a summary
        (customers, feature columns, segment counts, label totals).
    """
    from pyspark.sql import functions as F

    from kizuna.features import schema as s
    from kizuna.training.data import load_items
    from kizuna.training.engines.spark_customers import read_customers
    from kizuna.training.engines.spark_io import read_raw
    from kizuna.training.engines.spark_pass import validated_features
    from kizuna.training.engines.spark_session import input_bytes, spark_session

    settings = settings or {}
    with step("starting Spark", quiet=quiet):
        spark = spark_session(settings, master=master, input_bytes=input_bytes(data.transactions))
    with step(f"reading {data.transactions} ({data.format}) with Spark", quiet=quiet):
        raw = read_raw(spark, data)
    items, customers = load_items(data), read_customers(spark, data)
    with step(f"validating and building features as of {as_of} by customer shard", quiet=quiet):
        done = validated_features(
            raw,
            as_of,
            data_end=data.data_end,
            customers=customers,
            items=items,
            horizon_days=horizon,
            lookback_days=lookback,
            shards=int(settings.get("shards") or 0),
        )
    result = done.features
    out.mkdir(parents=True, exist_ok=True)
    with step(f"writing {out}", quiet=quiet):
        result.frame.write.mode("overwrite").parquet(str(out / "features.parquet"))
        if result.labels is not None:
            result.labels.write.mode("overwrite").parquet(str(out / "labels.parquet"))
        write_set_aside(done.set_aside, out / "set_aside.parquet")
        report = done.report.to_dict()
        (out / "reconciliation.json").write_text(json.dumps(report, indent=2))
    spark = result.frame.sparkSession
    written = spark.read.parquet(str(out / "features.parquet"))
    summary: dict = {"customers": written.count(), "feature_columns": written.columns[1:]}
    summary["segments"] = {
        row[s.SEGMENT]: row["count"] for row in written.groupBy(s.SEGMENT).count().collect()
    }
    if result.labels is not None:
        labels = spark.read.parquet(str(out / "labels.parquet"))
        row = labels.agg(
            F.count(F.lit(1)).alias("n"),
            F.avg(s.CHURN).alias("rate"),
            F.sum(s.FUTURE_VALUE).alias("value"),
        ).collect()[0]
        summary["labelled_customers"] = int(row["n"])
        summary["churn_rate"] = float(row["rate"] or 0.0)
        summary["future_value_total"] = float(row["value"] or 0.0)
    return report, None, summary
