"""Python workers started while the driver plans: the first shards then find them ready.

A Spark executor starts its Python daemon (which imports kizuna,
:mod:`training.engines.spark_daemon`) and forks a worker per task slot only when
the first pandas task arrives, and each new worker's first shard pays for
pandas' and kizuna's first calls as well. In ``kizuna features`` that first task
is the main pass, so every slot spent seconds on it while the driver had been
idle-waiting for its schema probe and small jobs. :func:`warm_python_workers`
runs one tiny task per slot at session start instead: the workers it leaves
behind are reused (``spark.python.worker.reuse``, on by default).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pandas as pd

from kizuna.features import schema as s


def warm_python_workers(spark: Any, pool: ThreadPoolExecutor) -> Future:
    """Run :func:`warm_shard` once per task slot of ``spark``, on a thread of ``pool``.

    Returns the job's future; its result is the number of slots warmed (the
    caller need not wait for it: nothing depends on it but speed).

    Parameters
    ----------
    spark
        The Spark session.
    pool
        Where the job is started from.

    Returns
    -------
    concurrent.futures.Future
        Its result is the number of slots warmed.
    """
    slots = max(int(spark.sparkContext.defaultParallelism), 1)

    def job() -> int:
        frame = spark.range(0, slots, 1, slots)
        warmed = frame.mapInPandas(_warm_batches, "warmed long")
        return sum(row["warmed"] for row in warmed.collect())

    return pool.submit(job)


def _warm_batches(batches: Any) -> Any:
    for batch in batches:
        warm_shard()
        yield pd.DataFrame({"warmed": [len(batch)]})


def warm_shard() -> int:
    """Validate and build features and labels of a two-customer order log, in pandas.

    Returns the number of customers with features (2), so that a test can see
    the whole path ran.

    Returns
    -------
    int
        1 (one slot warmed).
    """
    from kizuna.features.pipeline import (
        customer_base_features,
        customer_labels,
        rfm_score_inputs,
    )
    from kizuna.features.validate import validate_transactions

    stamps = pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04", "2024-05-06"])
    raw = pd.DataFrame(
        {
            s.CUSTOMER_ID: ["a", "a", "b", "a"],
            s.ORDER_ID: ["1", "2", "3", "4"],
            s.ITEM_ID: ["x", "y", "x", "x"],
            s.TIMESTAMP: stamps,
            s.QUANTITY: [1, 2, 1, -1],
            s.UNIT_PRICE: [3.0, 4.5, 3.0, 3.0],
        }
    )
    as_of = pd.Timestamp("2024-04-01")
    kept = validate_transactions(raw, data_end=stamps.max(), max_bad_share=1.0).kept
    frame = customer_base_features(kept, as_of)
    rfm_score_inputs(frame)
    customer_labels(kept, as_of, horizon_days=30, lookback_days=365)
    return len(frame)
