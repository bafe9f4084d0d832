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
    experiment: str | None = None,
) -> Any:
    """Read and validate ``data`` on Spark (with ``experiment``'s stored events); a
    :class:`SparkValidated`.

    Parameters
    ----------
    data
        The experiment's ``data:`` section.
    as_of
        Set aside rows at or after this instant; None keeps all.
    settings
        Spark settings from the experiment, or None.
    master
        The Spark master, or None.
    quiet
        Whether to hide progress.
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    SparkValidated
    """
    from kizuna.training.engines.spark_io import read_raw
    from kizuna.training.engines.spark_session import spark_session
    from kizuna.training.engines.spark_validate import validate as validate_spark

    settings = settings or {}
    with step("starting Spark", quiet=quiet):
        spark = spark_session(settings, master=master)
    with step(f"reading {data.transactions} ({data.format}) with Spark", quiet=quiet):
        raw = read_raw(spark, data, experiment=experiment)
    with step("validating by customer shard", quiet=quiet):
        return validate_spark(
            raw, as_of=as_of, data_end=data.data_end, shards=int(settings.get("shards") or 0)
        )


def write_set_aside(set_aside: Any, path: Path) -> None:
    """The set-aside rows as a Parquet folder (text columns, ``row_id``, ``reason``).

    Parameters
    ----------
    set_aside
        The set-aside rows on Spark.
    path
        The Parquet folder.
    """
    from kizuna.training.engines.spark_shard_validation import RAW_PREFIX

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
    experiment: str | None = None,
) -> tuple[dict, pd.DataFrame | None, dict]:
    """Validate, build features (and labels) on Spark and write them under ``out``.

    Writes ``features.parquet``, ``labels.parquet``, ``set_aside.parquet``
    (Parquet folders) and ``reconciliation.json``, as the pandas engine.
    Steps that do not need each other's results overlap, so that the task
    slots are not left idle while the driver waits: the driver's own imports
    and the items table load while the JVM starts; the customers table is read
    while the transactions are; the three outputs are written as concurrent
    jobs, and the summary is observed while they are written.

    Parameters
    ----------
    data
        The experiment's ``data:`` section.
    as_of
        The snapshot's instant.
    horizon
        The label window in days, or None for no labels.
    lookback
        Activity window of the labelled population.
    out
        The output folder.
    settings
        Spark settings from the experiment, or None.
    master
        The Spark master, or None.
    quiet
        Whether to hide progress.
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    (dict, None, dict)
        The reconciliation, None (the frame stays on Spark) and a summary
        (customers, feature columns, segment counts, label totals).
    """
    from concurrent.futures import ThreadPoolExecutor

    from kizuna.features.reconciliation import with_label_window
    from kizuna.training.data_span import check_as_of_in_span
    from kizuna.training.engines.spark_session import input_bytes, spark_session
    from kizuna.training.engines.spark_warm import warm_python_workers

    settings = settings or {}
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="kizuna-spark") as pool:
        prepared = pool.submit(_prepare_features, data)
        with step("starting Spark", quiet=quiet):
            spark = spark_session(
                settings, master=master, input_bytes=input_bytes(data.transactions)
            )
        warm_python_workers(spark, pool)
        items, steps = prepared.result()
        with step(f"reading {data.transactions} ({data.format}) with Spark", quiet=quiet):
            customers = pool.submit(steps.read_customers, spark, data)
            raw = steps.read_raw(spark, data, experiment=experiment)
            customers = customers.result()
        with step(f"validating and building features as of {as_of} by customer shard", quiet=quiet):
            done = steps.validated_features(
                raw,
                as_of,
                data_end=data.data_end,
                customers=customers,
                items=items,
                horizon_days=horizon,
                lookback_days=lookback,
                shards=int(settings.get("shards") or 0),
            )
        check_as_of_in_span(done.span, as_of, horizon_days=horizon)  # as the pandas engine
        out.mkdir(parents=True, exist_ok=True)
        report = with_label_window(done.report.to_dict(), as_of, horizon)
        with step(f"writing {out}", quiet=quiet):
            summary = _write_features(done, report, out, pool)
    return report, None, summary


def _prepare_features(data: DataConfig) -> tuple[pd.DataFrame | None, Any]:
    """The items table and the modules of the features pass (run while the JVM starts)."""
    from types import SimpleNamespace

    from kizuna.training.data import load_items
    from kizuna.training.engines.spark_customers import read_customers
    from kizuna.training.engines.spark_io import read_raw
    from kizuna.training.engines.spark_pass import validated_features

    steps = SimpleNamespace(
        read_customers=read_customers, read_raw=read_raw, validated_features=validated_features
    )
    return load_items(data), steps


def _write_features(done: Any, report: dict, out: Path, pool: Any) -> dict:
    """Write the features, labels, set-aside rows and reconciliation; return the summary.

    The writes are concurrent jobs: the small ones fill the task slots the
    features' last tasks leave free. The summary's counts and totals are
    observed as the rows are written (no second read of the output).
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from kizuna.features import schema as s
    from kizuna.features.segments import SEGMENTS

    result = done.features
    seen = Observation("kizuna-features")
    segment = F.col(s.SEGMENT)
    frame = result.frame.observe(
        seen,
        F.count(F.lit(1)).alias("customers"),
        *(F.sum((segment == name).cast("long")).alias(name) for name in SEGMENTS),
    )
    writes = [pool.submit(frame.write.mode("overwrite").parquet, str(out / "features.parquet"))]
    labelled = Observation("kizuna-labels")
    if result.labels is not None:
        labels = result.labels.observe(
            labelled,
            F.count(F.lit(1)).alias("n"),
            F.avg(s.CHURN).alias("rate"),
            F.sum(s.FUTURE_VALUE).alias("value"),
        )
        writes.append(
            pool.submit(labels.write.mode("overwrite").parquet, str(out / "labels.parquet"))
        )
    write_set_aside(done.set_aside, out / "set_aside.parquet")
    for job in writes:
        job.result()
    (out / "reconciliation.json").write_text(json.dumps(report, indent=2))
    counts = seen.get
    summary: dict = {
        "customers": int(counts["customers"]),
        "feature_columns": result.frame.columns[1:],
    }
    summary["segments"] = {name: int(counts[name] or 0) for name in SEGMENTS}  # as pandas
    if result.labels is not None:
        row = labelled.get
        summary["labelled_customers"] = int(row["n"])
        summary["churn_rate"] = float(row["rate"] or 0.0)
        summary["future_value_total"] = float(row["value"] or 0.0)
    return summary
