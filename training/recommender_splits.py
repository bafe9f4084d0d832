"""The recommender's evaluation splits: holdout, validation and the re-ranker's training windows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import build_interactions
from kizuna.training.blend_tuning import TREND_DAYS
from kizuna.training.config import RecommenderConfig
from kizuna.training.recommender_holdout import holdout_split


def time_or_random_splits(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp,
    val_as_of: pd.Timestamp,
    horizon_days: int,
    config: RecommenderConfig,
    seed: int,
) -> tuple[Any, Any]:
    """(holdout, validation) under the configured protocol.

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    as_of
        The holdout's cutoff.
    val_as_of
        The validation cutoff.
    horizon_days
        The truth window.
    config
        The recommender config.
    seed
        The experiment's seed.

    Returns
    -------
    holdout, validation
        The two splits.
    """
    if config.protocol == "random_user":
        from kizuna.training.random_holdout import random_user_split

        end = transactions[s.TIMESTAMP].max() + pd.Timedelta(seconds=1)
        everything = build_interactions(transactions, end)
        frac = config.holdout_fraction
        holdout = random_user_split(everything, fraction=frac, seed=seed)
        validation = random_user_split(holdout.train, fraction=frac, seed=seed + 1)
    else:
        first = transactions[s.TIMESTAMP].min()
        if not first < val_as_of:  # else holdout_split would name val_as_of, not the user's as_of
            raise KizunaInputError(
                f"the recommender is chosen on a validation split one horizon before "
                f"split.as_of {as_of:%Y-%m-%d} ({val_as_of:%Y-%m-%d}), and no purchase precedes "
                f"it: the data starts {first:%Y-%m-%d}; choose a split.as_of after "
                f"{first + pd.Timedelta(days=horizon_days):%Y-%m-%d}",
                column="split.as_of",
            )
        holdout = holdout_split(transactions, as_of, horizon_days, trend_days=TREND_DAYS)
        validation = holdout_split(transactions, val_as_of, horizon_days, trend_days=TREND_DAYS)
    return holdout, validation


def reranker_windows(
    transactions: pd.DataFrame, validation: Any, horizon_days: int, config: RecommenderConfig
) -> list[Any]:
    """Training splits of the re-ranker, oldest first; empty when it is not trained.

    ``config.rerank_cutoffs`` cutoffs per horizon, over the two horizons up
    to the validation cutoff (which is the last). Empty without ``rerank``,
    under the ``random_user`` protocol, or with no customer who bought both
    before and after the earliest cutoff one horizon before validation.

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    validation
        The validation split.
    horizon_days
        The truth window.
    config
        The recommender config.

    Returns
    -------
    list
        The splits.
    """
    if not config.rerank or config.protocol != "time":
        return []
    step = pd.Timedelta(days=horizon_days / config.rerank_cutoffs)
    first = transactions[s.TIMESTAMP].min()
    windows = [validation]
    for j in range(1, 2 * config.rerank_cutoffs):
        cutoff = validation.as_of - j * step
        if cutoff <= first:
            break
        split = holdout_split(transactions, cutoff, horizon_days, trend_days=TREND_DAYS)
        windows.insert(0, split)
    early = validation.as_of - pd.Timedelta(days=horizon_days)
    return windows if any(w.as_of <= early and len(w.user_codes) for w in windows) else []


def hashed_sample(split: Any, max_users: int | None) -> Any:
    """The split with its evaluated customers cut to a fixed sample of at most ``max_users``.

    The sample is the customers whose id hashes lowest (``pandas.util.hash_array``
    of the id as text, a fixed key): the same customers in every split and run,
    whatever the seed. The split is returned unchanged when it has no more than
    ``max_users`` customers (or ``max_users`` is None), so small shops keep every one.

    Parameters
    ----------
    split
        The split.
    max_users
        Most evaluated customers, or None.

    Returns
    -------
    split
        Of the same type.
    """
    n = len(split.user_codes)
    if max_users is None or n <= max_users:
        return split
    ids = np.asarray(split.train.user_ids[split.user_codes].astype(str), dtype=object)
    keep = np.sort(np.argsort(pd.util.hash_array(ids), kind="stable")[:max_users])
    truth = {mode: matrix[keep] for mode, matrix in split.truth.items()}
    return replace(split, user_codes=split.user_codes[keep], truth=truth)
