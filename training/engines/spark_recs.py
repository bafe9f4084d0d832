"""Top-k recommendations on Spark, shard by shard, each shard with its own users' model state.

* **Item side, broadcast once:** the recommender without its fitted users
  (:meth:`models.recommenders.base.Recommender.for_users` with no state):
  item factors, similarities, trend, rankers; the item map, stock and the
  population's row weigher.
* **User side, by shard:** what the model keeps per fitted user (ALS
  factors, the re-ranker's purchase timing; :meth:`~models.recommenders.base.Recommender.user_state`)
  is cut on the driver into one piece per shard and travels with that shard's
  customer ids, so a worker holds only its own customers' state. The history
  rows are built in the shard from its own lines by the interactions code
  (:func:`features.interactions.build_interactions`), weighed with the
  population's statistics
  (:meth:`features.interactions.InteractionWeigher.fit_statistics`).
* One :meth:`recommend` call per shard; the model blocks the users itself.

The answers are the pandas engine's: a fitted customer scores with their own
fitted state, an unseen one from their row.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.training.engines.spark_shards import SHARD

STATS_SCHEMA = "n_users long, total double, item_users array<long>"
#: Weightings whose fit needs the whole population's counts (idf, mean row length).
POPULATION_WEIGHTINGS = ("bm25", "tfidf")
#: Column of the per-shard user state (pickled ``(customer ids, state)``), on one extra row.
STATE = "__user_state"
CODE = "__code"


def recommendations(
    kept: Any,
    frame: Any,
    bundle: Any,
    items: pd.DataFrame | None,
    as_of: pd.Timestamp,
    k: int,
    candidate_pool: int | None = None,
) -> Any:
    """``customer_id``, ``recommendations``: top-k new items per customer, by shard.

    Parameters
    ----------
    kept
        Validated lines, with their ``SHARD`` column.
    frame
        One row per scored customer: ``customer_id`` and ``SHARD``.
    bundle
        The served :class:`models.bundles.RecommenderBundle`.
    candidate_pool
        ``None``: exact top-k; else the hybrid's candidate pool size, as
        :func:`training.batch_score.score_chunks` takes it (the same call).
    items
        The validated items table, or None.
    as_of
        The snapshot's instant.
    k
        Items per customer.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, ``recommendations``.
    """
    from pyspark.sql import functions as F

    from kizuna.serving.catalogue import build_catalogue
    from kizuna.serving.weighting import WEIGHTING_KEYS, weigher_for

    spark = kept.sparkSession
    params = dict(bundle.interaction_params)
    count_params = {k_: v for k_, v in params.items() if k_ not in WEIGHTING_KEYS}
    # Only the item map and stock matter for the export; no line is needed for them.
    catalogue = build_catalogue(
        _no_lines(), as_of, item_ids=bundle.item_ids, items=items, recommender=bundle
    )
    item_ids = catalogue.item_ids
    cols = list(kept.columns)

    def counts_of(tx: pd.DataFrame, users: pd.Index) -> Any:
        from kizuna.features.interactions import build_interactions
        from kizuna.training.engines.spark_frames import typed_lines

        return build_interactions(
            typed_lines(tx[cols]), as_of, weighting="count", user_ids=users, item_ids=item_ids,
            **count_params,
        ).matrix  # fmt: skip

    ids = frame.select(s.CUSTOMER_ID, SHARD)
    weigher = weigher_for(params)
    if weigher.weighting in POPULATION_WEIGHTINGS:
        _fit_population(weigher, kept, ids, counts_of, len(item_ids))
    else:  # count and log weigh each row by itself: no population statistics to gather
        weigher.fit_statistics(0, np.zeros(len(item_ids), dtype=np.int64), 1.0)
    pool = None
    if candidate_pool is not None:
        from kizuna.training.batch_score import served_pool

        pool = served_pool(bundle.model, candidate_pool)
    shared = spark.sparkContext.broadcast(
        (bundle.model.for_users(None), weigher, catalogue.in_stock.copy(), pool)
    )
    names = item_ids.to_numpy(dtype=object)

    def recommend(tx: pd.DataFrame, side: pd.DataFrame) -> pd.DataFrame:
        from kizuna.models.recommenders.pooled import pooled_recommend
        from kizuna.training.export_schema import REC_SEP

        model, row_weigher, mask, pool = shared.value
        users = _users_of(side)
        codes = np.full(len(users), -1, dtype=np.int64)
        pieces = side[STATE].dropna()
        if len(pieces):
            fitted, state = pickle.loads(pieces.iloc[0])
            model = model.for_users(state)
            codes = pd.Index(fitted).get_indexer(users).astype(np.int64)
        history = row_weigher.transform(counts_of(tx, users))
        top, _ = pooled_recommend(model, pool, codes, history, k, exclude_seen=True, item_mask=mask)
        lists = [REC_SEP.join(names[row[row >= 0]]) for row in top]
        return pd.DataFrame({s.CUSTOMER_ID: users.astype(object), "recommendations": lists})

    side = ids.withColumn(STATE, F.lit(None).cast("binary"))
    pieces = _state_pieces(ids, bundle)
    if pieces is not None:
        side = side.unionByName(pieces.withColumn(s.CUSTOMER_ID, F.lit(None).cast("string")))
    schema = f"{s.CUSTOMER_ID} string, recommendations string"
    grouped = kept.groupBy(SHARD).cogroup(side.groupBy(SHARD))
    return grouped.applyInPandas(recommend, schema)


def _state_pieces(ids: Any, bundle: Any) -> Any:
    """``SHARD``, ``STATE``: the fitted users' model state, one row per shard that has any.

    Which shard a fitted customer is in comes from the scored customers'
    shards (a join on the id); fitted customers not scored need no state.
    """
    spark = ids.sparkSession
    user_ids = pd.Index(bundle.user_ids).astype(str)
    if len(user_ids) == 0:
        return None
    fitted = spark.createDataFrame(
        pd.DataFrame(
            {s.CUSTOMER_ID: user_ids.to_numpy(dtype=object), CODE: np.arange(len(user_ids))}
        ),
        f"{s.CUSTOMER_ID} string, {CODE} long",
    )
    where = ids.join(fitted, on=s.CUSTOMER_ID).select(SHARD, CODE).toPandas()
    if where.empty:
        return None
    rows = []
    for shard, group in where.groupby(SHARD, sort=True):
        codes = np.sort(group[CODE].to_numpy(dtype=np.int64))
        state = bundle.model.user_state(codes)
        piece = (user_ids[codes].to_numpy(dtype=object), state)
        rows.append((int(shard), pickle.dumps(piece, protocol=pickle.HIGHEST_PROTOCOL)))
    table = pd.DataFrame(rows, columns=[SHARD, STATE])
    return spark.createDataFrame(table, f"`{SHARD}` int, `{STATE}` binary")


def _fit_population(weigher: Any, kept: Any, ids: Any, counts_of: Any, n_items: int) -> None:
    """Fit the row weigher on all customers' counts, from the shards' sums: a pass more."""

    def stats(tx: pd.DataFrame, side: pd.DataFrame) -> pd.DataFrame:
        users = _users_of(side)
        counts = counts_of(tx, users)
        item_users = np.bincount(counts.indices, minlength=n_items).astype(np.int64)
        return pd.DataFrame(
            {
                "n_users": [len(users)],
                "total": [float(counts.sum(dtype=np.float64))],
                "item_users": [item_users],
            }
        )

    parts = kept.groupBy(SHARD).cogroup(ids.groupBy(SHARD)).applyInPandas(stats, STATS_SCHEMA)
    parts = parts.collect()
    n_users = sum(int(p["n_users"]) for p in parts)
    total = sum(float(p["total"]) for p in parts)
    item_users = np.sum([np.asarray(p["item_users"], dtype=np.int64) for p in parts], axis=0)
    weigher.fit_statistics(n_users, item_users, total / n_users if n_users else 1.0)


def _users_of(side: pd.DataFrame) -> pd.Index:
    """The shard's customer ids, sorted (the extra state row has none)."""
    ids = side[s.CUSTOMER_ID].dropna().astype(str).sort_values()
    return pd.Index(ids.to_numpy())


def _no_lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: pd.Series(dtype="string"),
            s.ITEM_ID: pd.Series(dtype="string"),
            s.TIMESTAMP: pd.Series(dtype="datetime64[ns]"),
            s.IS_RETURN: pd.Series(dtype=bool),
        }
    )
