"""The hybrid's candidate pool: hand-worked answers, exact when it covers the catalogue."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders import HybridRecommender, ItemKNNRecommender
from kizuna.models.recommenders.pooled import CandidatePool, pooled_recommend
from tests.models.recommender_contract import make_category_data

# Popularity (column sums): item 0 = 4, item 1 = 2, item 2 = 1, item 3 = 1.
X = sp.csr_matrix(np.array([[3, 0, 0, 0], [0, 2, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]], dtype=float))
RECENT = np.array([0.0, 0.0, 0.0, 9.0])  # item 3 is the only one selling now


@pytest.fixture(scope="module")
def tiny() -> HybridRecommender:
    """Repurchase and trending only (every collaborative weight 0), so scores are by hand."""
    return HybridRecommender(
        item_knn_weight=0.0, als_weight=0.0, new_item_knn_weight=0.0, new_als_weight=0.0,
        new_ease_weight=0.0, trending_weight=0.2, new_trending_weight=0.6,
    ).fit(X, recent_items=RECENT)  # fmt: skip


def test_pool_is_the_top_trending_and_popular_items(tiny):
    # size 1: the trend's best (item 3) and the most popular (item 0).
    assert CandidatePool(1).fit(tiny).items_.tolist() == [0, 3]


def test_hand_worked_blend_over_the_candidates(tiny):
    """A user who bought item 1 once: candidates {0, 3} (pool) and {1} (own item).

    R(1) = 1 (the only own item, scaled to 1), weight 1; T(3) = 9/9 = 1, weight
    0.2; item 0 scores 0. Item 2 is no candidate: padded, where the exact
    top-k would rank it fourth.
    """
    row = sp.csr_matrix(np.array([[0, 1.0, 0, 0]]))
    items, scores = CandidatePool(1).fit(tiny).recommend(tiny, np.array([-1]), row, 4)
    assert items.tolist() == [[1, 3, 0, -1]]
    np.testing.assert_allclose(scores[0, :3], [1.0, 0.2, 0.0])
    assert np.isneginf(scores[0, 3])
    exact, _ = tiny.recommend(np.array([-1]), row, 4)
    assert exact.tolist() == [[1, 3, 0, 2]]
    # New items only: the new blend's trending weight 0.6 on item 3; item 1 excluded.
    items, scores = (
        CandidatePool(1).fit(tiny).recommend(tiny, np.array([-1]), row, 3, exclude_seen=True)
    )
    assert items.tolist() == [[3, 0, -1]]
    np.testing.assert_allclose(scores[0, :2], [0.6, 0.0])


def test_an_unfitted_pool_is_refused_not_fitted_on_the_fly(tiny):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="fit"):
        CandidatePool(1).recommend(tiny, np.array([-1]), X[[0]], 3)


def test_item_mask_applies_to_candidates(tiny):
    row = sp.csr_matrix(np.array([[0, 1.0, 0, 0]]))
    mask = np.array([True, True, True, False])
    items, _ = CandidatePool(1).fit(tiny).recommend(tiny, np.array([-1]), row, 3, item_mask=mask)
    assert items.tolist() == [[1, 0, -1]]


@pytest.fixture(scope="module")
def synthetic():
    return make_category_data(seed=3)


@pytest.mark.parametrize("ease_weight", [0.0, 0.5])
@pytest.mark.parametrize("exclude_seen", [False, True])
@pytest.mark.parametrize("seen_in_all", [True, False])
def test_a_pool_covering_the_catalogue_is_exact(synthetic, ease_weight, exclude_seen, seen_in_all):
    X = synthetic["train"]
    model = HybridRecommender(
        als_factors=8, knn_neighbours=20, ease_weight=ease_weight, seen_in_all=seen_in_all
    ).fit(X, recent_items=X[-50:])
    codes = np.r_[np.arange(30), np.full(10, -1)]  # fitted users and unseen ones
    rows = X[np.arange(40)]
    mask = np.ones(X.shape[1], dtype=bool)
    mask[::7] = False
    exact = model.recommend(codes, rows, 10, exclude_seen=exclude_seen, item_mask=mask)
    pool = CandidatePool(X.shape[1]).fit(model)
    assert pool.items_.size == X.shape[1]
    got = pool.recommend(model, codes, rows, 10, exclude_seen=exclude_seen, item_mask=mask)
    np.testing.assert_array_equal(got[0], exact[0])
    np.testing.assert_array_equal(got[1], exact[1])


def test_a_small_pool_proposes_only_candidates(synthetic):
    X = synthetic["train"]
    model = HybridRecommender(als_factors=8, knn_neighbours=5).fit(X)
    pool = CandidatePool(3).fit(model)
    rows = X[:20]
    items, scores = pool.recommend(model, np.arange(20), rows, 10, exclude_seen=True)
    neighbours = model.item_knn_.sparse_scores(rows)
    ease = model.ease_.score_items(np.arange(20), rows)  # the new blend weighs EASE
    for u in range(20):
        allowed = set(pool.items_) | set(neighbours[u].indices) | set(np.flatnonzero(ease[u]))
        got = items[u][items[u] >= 0]
        assert set(got) <= allowed and not set(got) & set(rows[u].indices)
        assert np.all(np.diff(scores[u][items[u] >= 0]) <= 0)


def test_pooled_recommend_without_a_pool_is_the_models_own(synthetic):
    X = synthetic["train"]
    model = HybridRecommender(als_factors=8).fit(X)
    a = pooled_recommend(model, None, np.arange(5), X[:5], 4, exclude_seen=True, item_mask=None)
    b = model.recommend(np.arange(5), X[:5], 4, exclude_seen=True)
    np.testing.assert_array_equal(a[0], b[0])


def test_refuses_other_models_and_bad_sizes(synthetic):
    X = synthetic["train"]
    with pytest.raises(KizunaInputError, match="hybrid"):
        CandidatePool(10).fit(ItemKNNRecommender().fit(X))
    model = HybridRecommender(als_factors=8).fit(X)
    for bad in (0, 2.5, True):
        with pytest.raises(KizunaInputError, match="size"):
            CandidatePool(bad).fit(model)
    assert CandidatePool(5).get_params() == {"size": 5}


def test_the_experiment_file_sets_the_pool(tmp_path):
    from kizuna.training.config import load_experiment

    base = "name: x\ndata: {transactions: t.parquet}\nsplit: {as_of: 2024-01-01}\n"
    (tmp_path / "exact.yaml").write_text(base)
    assert load_experiment(tmp_path / "exact.yaml").scoring.candidate_pool is None
    (tmp_path / "pool.yaml").write_text(base + "scoring: {candidate_pool: 300}\n")
    assert load_experiment(tmp_path / "pool.yaml").scoring.candidate_pool == 300
    (tmp_path / "bad.yaml").write_text(base + "scoring: {candidate_pool: 0}\n")
    with pytest.raises(KizunaInputError, match="candidate_pool"):
        load_experiment(tmp_path / "bad.yaml")
