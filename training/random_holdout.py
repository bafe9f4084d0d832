"""Per-user random holdout: the protocol of published recommender benchmarks.

Each customer with at least two distinct items has a random share of their
distinct items held out (at least one); the model trains on everything else
and is judged on a full ranking of the catalogue with the customer's training
items excluded. Time plays no part, so results compare with papers that use
this protocol, not with the time split.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import Interactions
from kizuna.training.recommender_holdout import RecommenderHoldout


def random_user_split(
    history: Interactions, *, fraction: float = 0.2, seed: int = 0, trend_days: float = 7
) -> RecommenderHoldout:
    """Hold out ``fraction`` of each customer's distinct items at random.

    Parameters
    ----------
    history
        Interactions, shape (n_users, n_items), e.g. every purchase.
    fraction
        Share of each eligible customer's distinct items held out (rounded,
        at least one, never all).
    seed
        Seeds the choice.
    trend_days
        Window of the recent sales.

    Returns
    -------
    RecommenderHoldout
        ``truth["all"]`` and ``truth["new"]`` are the same held-out items
        (none of them is in the training rows); ``recent`` is None (trending
        falls back to all-time popularity).
    """
    if not 0 < fraction < 1:
        raise KizunaInputError("must be between 0 and 1", column="recommender.holdout_fraction",
                               values=[fraction])  # fmt: skip
    X = history.matrix.tocsr()
    rng = np.random.default_rng(seed)
    n_users, n_items = X.shape
    keep = np.ones(X.nnz, dtype=bool)
    users = []
    for u in range(n_users):
        lo, hi = X.indptr[u], X.indptr[u + 1]
        n = hi - lo
        if n < 2:
            continue
        k = min(max(int(round(fraction * n)), 1), n - 1)
        keep[lo + rng.choice(n, k, replace=False)] = False
        users.append(u)
    rows = np.repeat(np.arange(n_users), np.diff(X.indptr))
    train = sp.csr_matrix((X.data[keep], (rows[keep], X.indices[keep])), shape=X.shape)
    held = sp.csr_matrix(
        (np.ones((~keep).sum(), dtype=np.float32), (rows[~keep], X.indices[~keep])), shape=X.shape
    )
    user_codes = np.asarray(users, dtype=np.int64)
    item_share = np.diff(train.tocsc().indptr) / max(n_users, 1)
    truth = held[user_codes]
    return RecommenderHoldout(
        train=dataclasses.replace(history, matrix=train),
        recent=None,
        user_codes=user_codes,
        truth={"all": truth, "new": truth},
        new_item_ids=pd.Index([], dtype=object),
        item_categories=None,
        item_share=item_share.astype(np.float64),
        as_of=history.as_of,
        horizon_days=0.0,
        trend_days=float(trend_days),
        excludes_training=True,
    )
