"""Fits shared inside ``shared_fits``: the same learned arrays as fitting again, nothing outside."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context

import numpy as np
import pytest

from kizuna.models.recommenders import (
    ALSRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from kizuna.models.recommenders.fit_cache import active_cache, shared_fits
from tests.models.recommender_contract import make_category_data


@pytest.fixture(scope="module")
def data() -> dict:
    return make_category_data(n_users=120, n_items=40, seed=5)


def test_the_hybrid_and_a_baseline_share_one_als_fit(data) -> None:
    X = data["train"]
    alone = ALSRecommender(factors=8, iterations=3).fit(X)
    with shared_fits() as cache:
        hybrid = HybridRecommender(als_factors=8, als_iterations=3, ease_weight=0.0,
                                   new_ease_weight=0.0).fit(X)  # fmt: skip
        baseline = ALSRecommender(factors=8, iterations=3).fit(X, recent_items=X[:5])
    # One ALS and one item-kNN fitted (the hybrid's); the baseline ALS reads only X, so it is shared.
    assert cache.misses == 3 and cache.hits == 1
    assert baseline.user_factors_ is hybrid.als_.user_factors_
    np.testing.assert_array_equal(baseline.item_factors_, alone.item_factors_)
    users = np.arange(10)
    np.testing.assert_array_equal(
        baseline.recommend(users, X[users], 5)[0], alone.recommend(users, X[users], 5)[0]
    )
    assert active_cache() is None


def test_different_data_parameters_or_recent_sales_are_fitted_again(data) -> None:
    X, Y = data["train"], data["future"]
    with shared_fits() as cache:
        ItemKNNRecommender(neighbours=10).fit(X)
        ItemKNNRecommender(neighbours=10).fit(Y)
        ItemKNNRecommender(neighbours=20).fit(X)
        trending = PopularityRecommender(trending=True)
        trending.fit(X, recent_items=X[:5])
        again = PopularityRecommender(trending=True).fit(X, recent_items=Y[:5])
    assert cache.hits == 0 and cache.misses == 5
    assert not np.array_equal(trending.popularity_, again.popularity_)


def test_outside_the_block_nothing_is_shared(data) -> None:
    X = data["train"]
    first = ItemKNNRecommender(neighbours=10).fit(X)
    second = ItemKNNRecommender(neighbours=10).fit(X)
    assert first.similarity_ is not second.similarity_


def test_threads_in_the_context_wait_for_one_fit(data) -> None:
    X = data["train"]
    with shared_fits() as cache, ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(copy_context().run, ALSRecommender(factors=8, iterations=3).fit, X)
            for _ in range(4)
        ]
        models = [f.result() for f in futures]
    assert cache.misses == 1 and cache.hits == 3
    assert all(m.user_factors_ is models[0].user_factors_ for m in models)


def test_a_failed_fit_is_not_kept(data) -> None:
    with shared_fits() as cache:
        for _ in range(2):
            with pytest.raises(Exception, match="similarity"):
                ItemKNNRecommender(similarity="nope").fit(data["train"])
    assert cache.misses == 2
