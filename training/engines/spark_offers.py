"""Next-best offers on Spark: :func:`models.next_best_offer.decide` per customer shard.

Every rule of the decision (eligibility, cooldowns and contact caps, uplift) is
per customer, so a shard of customers decides exactly as the whole table does.
The offer catalogue, the contact log, product candidates and learned uplift
are broadcast to every shard (the contact log and candidates as pandas frames:
for very large ones, pre-filter them to the customers being decided).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.training.engines.spark_session import arrow_safe
from kizuna.training.engines.spark_shards import SHARD, shard_key


def decide_offers(
    scores: Any,
    catalogue: Any,
    *,
    now: pd.Timestamp,
    channel: str | None = None,
    k: int = 1,
    uplift: Any = None,
    contact_log: pd.DataFrame | None = None,
    product_candidates: pd.DataFrame | None = None,
    explain: bool = True,
    shards: int = 0,
) -> Any:
    """Decisions for every customer of a Spark ``scores`` frame (one row per customer).

    Parameters
    ----------
    scores
        Spark DataFrame with the columns :func:`decide` reads (``customer_id``,
        ``segment``, ``churn_probability``, ``predicted_value``,
        ``days_since_last_purchase``, optionally ``monetary_mean``...).
    catalogue, now, channel, k, uplift, contact_log, product_candidates, explain
        As :func:`models.next_best_offer.decide`.
    shards
        Number of shards (0: from the size).

    Returns
    -------
    pyspark.sql.DataFrame
        The columns of :data:`models.next_best_offer.DECISION_COLUMNS`.
    """
    from pyspark.sql import functions as F

    from kizuna.models.next_best_offer import decide
    from kizuna.training.engines.spark_frames import probe_schema

    spark = scores.sparkSession
    shards = shards or spark.sparkContext.defaultParallelism
    shared = spark.sparkContext.broadcast((catalogue, uplift, contact_log, product_candidates))
    columns = [c for c in scores.columns if c != SHARD]

    def run(shard: pd.DataFrame) -> pd.DataFrame:
        cat, learned, log, cands = shared.value
        frame = shard[columns].reset_index(drop=True)
        frame[s.CUSTOMER_ID] = frame[s.CUSTOMER_ID].astype(str)
        decisions = decide(
            frame,
            cat,
            product_candidates=cands,
            contact_log=log,
            now=now,
            channel=channel,
            k=k,
            uplift=learned,
            explain=explain,
        )
        return arrow_safe(decisions)

    sharded = scores.withColumn(SHARD, shard_key(F.col(s.CUSTOMER_ID), shards))
    schema = probe_schema(sharded, run)
    return sharded.groupBy(SHARD).applyInPandas(run, schema)
