"""The hybrid recommender and cold start: blends, reasons and fallbacks, worked out by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders import (
    COMPONENTS,
    ColdStartRecommender,
    HybridRecommender,
)
from kizuna.models.recommenders.hybrid import EASE, ITEM_KNN, REASONS, REPURCHASE, TRENDING
from tests.models.recommender_contract import make_category_data


@pytest.fixture(scope="module")
def synthetic() -> dict[str, Any]:
    return make_category_data(seed=3)


# --- hybrid -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hybrid(synthetic) -> HybridRecommender:
    return HybridRecommender(als_factors=8, knn_neighbours=20).fit(
        synthetic["train"], recent_items=synthetic["train"][-50:]
    )


def test_seen_in_all_false_leaves_own_items_out_of_the_all_mode(synthetic, hybrid) -> None:
    # A shop where nobody buys an item twice: the all mode keeps its own weights but
    # drops the customer's items, in recommend and in the reasons alike.
    users = np.arange(60)
    rows = synthetic["train"][users]
    model = HybridRecommender(**{**hybrid.get_params(), "seen_in_all": False}).fit(
        synthetic["train"], recent_items=synthetic["train"][-50:]
    )
    items, scores = model.recommend(users, rows, 10)
    blend = hybrid.score_items(users, rows)  # the same all-mode weights
    for u in users:
        own = set(rows[u].indices)
        assert own and not own & set(items[u])
        allowed = np.flatnonzero(~np.isin(np.arange(blend.shape[1]), list(own)))
        expected = allowed[np.argsort(-blend[u, allowed], kind="stable")][:10]
        np.testing.assert_allclose(scores[u], blend[u, expected])
    explained = model.recommend_with_reasons(users, rows, 10)
    np.testing.assert_array_equal(explained.item_codes, items)
    # The new mode is the new mode either way.
    a, _ = model.recommend(users, rows, 10, exclude_seen=True)
    b, _ = hybrid.recommend(users, rows, 10, exclude_seen=True)
    np.testing.assert_array_equal(a, b)
    assert model.drops_seen(False) and not hybrid.drops_seen(False) and hybrid.drops_seen(True)


def test_hybrid_new_mode_does_not_depend_on_the_repurchase_weight(synthetic, hybrid) -> None:
    users = np.arange(80)
    rows = synthetic["train"][users]
    without = HybridRecommender(**{**hybrid.get_params(), "repurchase_weight": 0.0}).fit(
        synthetic["train"], recent_items=synthetic["train"][-50:]
    )
    a = hybrid.recommend(users, rows, 10, exclude_seen=True)
    b = without.recommend(users, rows, 10, exclude_seen=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])


def test_hybrid_repurchase_ranks_the_most_bought_item_first() -> None:
    # Two users, 3 items; user 0 bought item 2 five times: with repurchase
    # weight 1 and small collaborative weights it must come first.
    X = sp.csr_matrix(np.array([[0, 1, 5], [1, 1, 0], [1, 0, 1]], dtype=np.float32))
    model = HybridRecommender(item_knn_weight=0.1, als_weight=0.0, trending_weight=0.1).fit(X)
    explained = model.recommend_with_reasons(np.array([0]), X[:1], 3)
    assert explained.item_codes[0, 0] == 2
    assert explained.component[0, 0] == REPURCHASE


def test_hybrid_reasons_are_consistent(synthetic, hybrid) -> None:
    users = np.arange(100)
    rows = synthetic["train"][users]
    explained = hybrid.recommend_with_reasons(users, rows, 10)
    plain = hybrid.recommend(users, rows, 10)
    np.testing.assert_array_equal(explained.item_codes, plain[0])
    np.testing.assert_allclose(explained.scores, plain[1])
    seen = rows.toarray() > 0
    r, c = np.nonzero(explained.item_codes >= 0)
    picked = explained.item_codes[r, c]
    component = explained.component[r, c]
    assert set(np.unique(component)) <= set(range(len(COMPONENTS)))
    # "Bought before" only for items the user bought.
    assert seen[r[component == REPURCHASE], picked[component == REPURCHASE]].all()
    # "Similar to X": X is in the user's history; other reasons have no anchor.
    anchor = explained.anchor_item[r, c]
    knn = component == ITEM_KNN
    assert knn.any()
    assert seen[r[knn], anchor[knn]].all()
    assert (anchor[~knn] == -1).all()
    # New items only: no repurchase reasons left.
    new = hybrid.recommend_with_reasons(users, rows, 10, exclude_seen=True)
    assert not (new.component == REPURCHASE).any()


def test_hybrid_reason_is_trending_when_only_popularity_speaks() -> None:
    X = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
    model = HybridRecommender(als_weight=0.0).fit(X, recent_items=np.array([0, 0, 0, 9.0]))
    # An empty history: only the trending term scores, item 3 first.
    explained = model.recommend_with_reasons(
        np.array([-1]), sp.csr_matrix((1, 4), dtype=np.float32), 2
    )
    assert explained.item_codes[0, 0] == 3
    assert (explained.component[0] == TRENDING).all()


def test_hybrid_rejects_bad_weights(synthetic) -> None:
    with pytest.raises(KizunaInputError, match="weights"):
        HybridRecommender(repurchase_weight=0, item_knn_weight=0, als_weight=0,
                          trending_weight=0).fit(synthetic["train"])  # fmt: skip
    with pytest.raises(KizunaInputError, match="weights"):
        HybridRecommender(als_weight=-1).fit(synthetic["train"])


def test_hybrid_similar_items_share_the_category(synthetic, hybrid) -> None:
    query = np.arange(30)
    items, _ = hybrid.similar_items(query, 5)
    cat = synthetic["item_category"]
    assert (cat[items] == cat[query][:, None]).mean() > 0.7  # chance 1/6


# --- cold start -------------------------------------------------------------------------


def test_cold_start_by_hand() -> None:
    categories = np.array(["toys", "home", "toys", "home", "garden"])
    X = sp.csr_matrix(np.array([[1, 1, 1, 1, 1], [0, 2, 0, 0, 0]], dtype=np.float32))
    recent = np.array([1.0, 0.0, 4.0, 2.0, 3.0])
    model = ColdStartRecommender().fit(X, recent_items=recent, item_categories=categories)
    items, scores = model.recommend_for_categories(
        ["toys", ["home", "garden"], None, "nothing-known|", "toys|garden"], k=3
    )
    # toys: 2 (4), 0 (1), then the best other item by recent sales: 4 (3).
    np.testing.assert_array_equal(items[0], [2, 0, 4])
    np.testing.assert_allclose(scores[0], [2 + 4 / 4, 2 + 1 / 4, 3 / 4])
    # home|garden: 4 (3), 3 (2), 1 (0).
    np.testing.assert_array_equal(items[1], [4, 3, 1])
    # No usable preference: trending overall.
    np.testing.assert_array_equal(items[2], [2, 4, 3])
    np.testing.assert_array_equal(items[3], [2, 4, 3])
    np.testing.assert_array_equal(items[4], [2, 4, 0])
    strict = ColdStartRecommender(fill_from_other_categories=False).fit(
        X, recent_items=recent, item_categories=categories
    )
    np.testing.assert_array_equal(strict.recommend_for_categories(["toys"], 3)[0][0], [2, 0, -1])
    # Plain recommend, and no categories at all: trending for everyone.
    bare = ColdStartRecommender().fit(X, recent_items=recent)
    np.testing.assert_array_equal(bare.recommend_for_categories(["toys"], 3)[0][0], [2, 4, 3])
    with pytest.raises(KizunaInputError, match="preferred_categories"):
        model.recommend_for_categories("toys", 3)


def test_hybrid_new_items_use_their_own_blend() -> None:
    # User 0 bought items 0 and 1; item 2 co-occurs with them, item 3 sells now.
    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]],
                               dtype=np.float32))  # fmt: skip
    recent = np.array([0.0, 0.0, 0.0, 5.0])
    params = dict(als_weight=0.0, ease_weight=0.0, new_als_weight=0.0, new_ease_weight=0.0)
    # Any items: the kNN picks item 2 first among the new ones; new items
    # only: with only the trending weight, item 3 (recent sales) comes first.
    model = HybridRecommender(repurchase_weight=0.0, item_knn_weight=1.0, trending_weight=0.0,
                              new_item_knn_weight=0.0, new_trending_weight=1.0,
                              **params).fit(X, recent_items=recent)  # fmt: skip
    row = X[[0]]
    anything, _ = model.recommend(np.array([0]), row, 4)
    assert list(anything[0]).index(2) < list(anything[0]).index(3)
    new, new_scores = model.recommend(np.array([0]), row, 2, exclude_seen=True)
    np.testing.assert_array_equal(new, [[3, 2]])
    np.testing.assert_allclose(new_scores, [[1.0, 0.0]])
    explained = model.recommend_with_reasons(np.array([0]), row, 2, exclude_seen=True)
    np.testing.assert_array_equal(explained.item_codes, new)
    assert (explained.component == TRENDING).all()
    # The blend's parts add up to the score in each mode.
    for exclude in (False, True):
        parts = model.component_scores(np.array([0]), row, exclude_seen=exclude)
        np.testing.assert_allclose(parts.sum(axis=0), model._score_for(np.array([0]), row,
                                                                     exclude))  # fmt: skip


def test_hybrid_ease_reasons_name_a_bought_item(synthetic) -> None:
    model = HybridRecommender(item_knn_weight=0.0, als_weight=0.0, trending_weight=0.0,
                              ease_weight=1.0, new_item_knn_weight=0.0, new_als_weight=0.0,
                              new_trending_weight=0.05, new_ease_weight=1.0)  # fmt: skip
    model.fit(synthetic["train"])
    users = np.arange(60)
    rows = synthetic["train"][users]
    explained = model.recommend_with_reasons(users, rows, 10, exclude_seen=True)
    r, c = np.nonzero(explained.component == EASE)
    assert r.size > 0.9 * explained.component.size
    seen = rows.toarray() > 0
    anchors = explained.anchor_item[r, c]
    assert (anchors >= 0).all() and seen[r, anchors].all()
    # The anchor is the bought item with the largest EASE weight to the pick.
    B = model.ease_.weights_.toarray()
    picks = explained.item_codes[r, c]
    best = np.where(seen[r], B[:, picks].T, -np.inf).max(axis=1)
    np.testing.assert_allclose(B[anchors, picks], best)
    assert "{item}" in REASONS["ease"]


def test_hybrid_leaves_ease_out_above_max_items(synthetic) -> None:
    with pytest.warns(UserWarning, match="ease_max_items"):
        model = HybridRecommender(als_factors=8, ease_max_items=10).fit(synthetic["train"])
    assert model.ease_ is None
    parts = model.component_scores(np.arange(5), synthetic["train"][:5], exclude_seen=True)
    assert not parts[EASE].any()
    assert model.recommend(np.arange(5), synthetic["train"][:5], 5, exclude_seen=True)[0].min() >= 0
