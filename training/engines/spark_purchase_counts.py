"""The snapshot's purchase count matrix on Spark, one shard of customers at a time.

Each shard's lines go through :func:`features.interactions.build_interactions`
(the pandas engine's counts) in a pandas UDF; the shards' CSR blocks come back
to the driver as bytes, one row per shard, and are stacked in the order of the
feature frame (:func:`purchase_counts`, called by
:func:`training.engines.spark_snapshot.snapshot_parts`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.models.bundles import ChampionModels
from kizuna.training.engines.spark_shards import SHARD
from kizuna.training.snapshot_build import count_params

COUNTS_SCHEMA = "users array<string>, indptr binary, indices binary, data binary, dtype string"


def shard_counts(
    tx: pd.DataFrame, users: pd.Index, as_of: pd.Timestamp, item_ids: pd.Index, params: dict
) -> sp.csr_matrix:
    """Purchase counts of one shard's customers ``users`` (rows in that order).

    Parameters
    ----------
    tx
        The shard's validated lines, shape (n, k).
    users
        The shard's customer ids, in row order.
    as_of
        The snapshot's instant.
    item_ids
        The recommender's item ids (columns).
    params
        The recommender's ``interaction_params``.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape (len(users), len(item_ids)).
    """
    from kizuna.features.interactions import build_interactions
    from kizuna.training.engines.spark_frames import typed_lines

    return build_interactions(
        typed_lines(tx), as_of, weighting="count", user_ids=users, item_ids=item_ids, **params
    ).matrix


def purchase_counts(
    kept: Any,
    sharded: Any,
    users: pd.Index,
    as_of: pd.Timestamp,
    item_ids: pd.Index,
    models: ChampionModels,
) -> sp.csr_matrix:
    """The (n_customers, n_items) count matrix, by shard, rows in the order of ``users``.

    Parameters
    ----------
    kept
        The validated lines, a Spark DataFrame.
    sharded
        The same lines partitioned by customer shard.
    users
        Customer ids, in row order.
    as_of
        The snapshot's instant.
    item_ids
        The recommender's item ids (columns).
    models
        The champion models (the recommender's interaction settings).

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape (n_customers, n_items).
    """
    params = count_params(models)
    cols = list(kept.columns)

    def counts(tx: pd.DataFrame, feats: pd.DataFrame) -> pd.DataFrame:
        ids = pd.Index(np.sort(feats[s.CUSTOMER_ID].astype(str).to_numpy(dtype=object)))
        matrix = sp.csr_matrix(shard_counts(tx[cols], ids, as_of, item_ids, params))
        return pd.DataFrame(
            {
                "users": [ids.to_numpy(dtype=object)],
                "indptr": [matrix.indptr.astype(np.int64).tobytes()],
                "indices": [matrix.indices.astype(np.int64).tobytes()],
                "data": [matrix.data.tobytes()],
                "dtype": [str(matrix.data.dtype)],
            }
        )

    grouped = kept.groupBy(SHARD).cogroup(sharded.select(s.CUSTOMER_ID, SHARD).groupBy(SHARD))
    blocks, ids = [], []
    for row in grouped.applyInPandas(counts, COUNTS_SCHEMA).collect():
        n = len(row["users"])
        data = np.frombuffer(row["data"], dtype=row["dtype"])
        indices = np.frombuffer(row["indices"], dtype=np.int64)
        indptr = np.frombuffer(row["indptr"], dtype=np.int64)
        blocks.append(sp.csr_matrix((data, indices, indptr), shape=(n, len(item_ids))))
        ids.extend(row["users"])
    order = pd.Index(ids).get_indexer(users)
    if len(ids) != len(users) or (order < 0).any():
        raise AssertionError("the shards' customers differ from the feature frame's")
    if not blocks:
        return sp.csr_matrix((0, len(item_ids)))
    return sp.csr_matrix(sp.vstack(blocks, format="csr")[order])
