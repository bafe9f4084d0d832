"""The served recommender refit on every purchase, with what its bundle needs."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.interactions import build_interactions
from kizuna.models.bundles import RecommenderBundle
from kizuna.models.recommenders import HybridRecommender
from kizuna.training.blend_tuning import TREND_DAYS
from kizuna.training.config import RecommenderConfig
from kizuna.training.recommender_eval import DEFAULT_MODEL, default_models
from kizuna.training.recommender_holdout import item_categories
from kizuna.training.train_reranker import RERANKED, fit_with_timing

# Served models read purchase histories in this weighting (distinct orders per item).
INTERACTION_PARAMS: dict[str, Any] = {"weighting": "count"}


def refit_for_serving(
    transactions: pd.DataFrame,
    config: RecommenderConfig,
    *,
    seed: int,
    items: pd.DataFrame | None = None,
    purchase_rate_by_rank: np.ndarray | None = None,
    model_name: str = DEFAULT_MODEL,
    reranker: Any = None,
) -> RecommenderBundle:
    """Fit the served model (the hybrid, the re-ranker or the named baseline) on every purchase.

    ``reranker`` (needed when ``model_name`` is the re-ranked model) is the
    :class:`~models.recommenders.reranker.RerankedRecommender` with trained
    rankers: its generators are refit here, its rankers kept. The bundle
    holds the id maps and history the model needs.

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    config
        The recommender config.
    seed
        The experiment's seed.
    items
        The validated items table, or None.
    purchase_rate_by_rank
        Share bought per rank, shape (k,), or None.
    model_name
        The served model's name.
    reranker
        The trained re-ranker, or None.

    Returns
    -------
    RecommenderBundle
    """
    purchases = transactions[~transactions[s.IS_RETURN]]
    end = purchases[s.TIMESTAMP].max() + pd.Timedelta(seconds=1)
    history = build_interactions(transactions, end, **INTERACTION_PARAMS)
    recent = build_interactions(
        transactions[transactions[s.TIMESTAMP] >= end - pd.Timedelta(days=TREND_DAYS)],
        end,
        user_ids=history.user_ids,
        item_ids=history.item_ids,
        **INTERACTION_PARAMS,
    ).matrix
    categories = catalogue_categories(transactions, history.item_ids, items)
    cats = None if categories is None else categories.to_numpy()
    if model_name == RERANKED:
        # A copy: the caller keeps the model fitted before as_of for holdout figures.
        model = fit_with_timing(
            copy.deepcopy(reranker), transactions, history.matrix, history.user_ids, history.item_ids, end,
            recent=recent, categories=cats,
        )  # fmt: skip
    else:
        if model_name == DEFAULT_MODEL:
            model = HybridRecommender(**{"random_state": seed, **config.params})
        else:
            model = default_models(random_state=seed)[model_name]
        model.fit(history.matrix, recent_items=recent, item_categories=cats)
    return RecommenderBundle(
        model=model,
        item_ids=history.item_ids,
        user_ids=history.user_ids,
        interaction_params=dict(INTERACTION_PARAMS),
        item_categories=categories,
        history=history.matrix,
        trained_until=end,
        item_prices=median_prices(purchases, history.item_ids),
        purchase_rate_by_rank=purchase_rate_by_rank,
    )


def median_prices(purchases: pd.DataFrame, item_ids: pd.Index) -> np.ndarray:
    """Median unit price per item code, shape (n_items,).

    Parameters
    ----------
    purchases
        Purchase lines, shape (n, k).
    item_ids
        The item ids, shape (n_items,).

    Returns
    -------
    numpy.ndarray
        Shape (n_items,), float64; NaN without a price.
    """
    prices = purchases.groupby(s.ITEM_ID, observed=True)[s.UNIT_PRICE].median()
    return prices.reindex(item_ids).to_numpy(dtype=float)


def catalogue_categories(
    transactions: pd.DataFrame, item_ids: pd.Index, items: pd.DataFrame | None
) -> pd.Series | None:
    """Category per item code: the catalogue's, else the most frequent in transactions.

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    item_ids
        The item ids, shape (n_items,).
    items
        The validated items table, or None.

    Returns
    -------
    pandas.Series or None
        Shape (n_items,); None without categories.
    """
    if items is not None and s.CATEGORY in items.columns:
        return items[s.CATEGORY].reindex(item_ids).astype("string").reset_index(drop=True)
    if s.CATEGORY in transactions.columns:
        values = item_categories(transactions, item_ids, s.ITEM_ID, s.CATEGORY)
        return pd.Series(values, dtype="string")
    return None
