"""Recommenders: the shared contract for each, plus hand-worked and reference checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import BM25Recommender, bm25_weight
from threadpoolctl import threadpool_limits

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders import (
    ALSRecommender,
    BPRRecommender,
    ColdStartRecommender,
    EASERecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PersonalPopularityRecommender,
    PopularityRecommender,
    top_k,
)
from tests.models.recommender_contract import RecommenderContract, make_category_data

# --- the contract, once per model ------------------------------------------------------


class TestPopularityContract(RecommenderContract):
    personalised = False

    def make_model(self) -> PopularityRecommender:
        return PopularityRecommender()


class TestTrendingPopularityContract(RecommenderContract):
    personalised = False

    def make_model(self) -> PopularityRecommender:
        return PopularityRecommender(trending=True)


class TestPersonalPopularityContract(RecommenderContract):
    def make_model(self) -> PersonalPopularityRecommender:
        return PersonalPopularityRecommender()


class TestALSContract(RecommenderContract):
    def make_model(self) -> ALSRecommender:
        return ALSRecommender(factors=8, iterations=10, regularization=0.1)


class TestBPRContract(RecommenderContract):
    def make_model(self) -> BPRRecommender:
        return BPRRecommender(factors=8, iterations=60, learning_rate=0.05)


class TestItemKNNBM25Contract(RecommenderContract):
    def make_model(self) -> ItemKNNRecommender:
        return ItemKNNRecommender(neighbours=20)


class TestItemKNNCosineContract(RecommenderContract):
    def make_model(self) -> ItemKNNRecommender:
        return ItemKNNRecommender(neighbours=20, similarity="cosine")


class TestEASEContract(RecommenderContract):
    def make_model(self) -> EASERecommender:
        return EASERecommender(neighbours=20)


class TestHybridContract(RecommenderContract):
    # The trending term (recent sales of all categories) dilutes new items.
    min_category_share = 0.55

    def make_model(self) -> HybridRecommender:
        return HybridRecommender(als_factors=8, knn_neighbours=20)


class TestColdStartContract(RecommenderContract):
    personalised = False

    def make_model(self) -> ColdStartRecommender:
        return ColdStartRecommender()


# --- shared top-k machinery -------------------------------------------------------------


def test_top_k_orders_pads_and_breaks_ties_by_the_given_order() -> None:
    scores = np.array([[0.5, 2.0, 2.0, -np.inf], [1.0, 1.0, 1.0, 1.0]])
    items, vals = top_k(scores.copy(), 3)
    np.testing.assert_array_equal(items, [[1, 2, 0], [0, 1, 2]])
    np.testing.assert_array_equal(vals[0], [2.0, 2.0, 0.5])
    # Preferred order 3, 2, 1, 0: ties go to 2 before 1, and 3 before the rest.
    items, _ = top_k(scores.copy(), 3, np.array([3, 2, 1, 0]))
    np.testing.assert_array_equal(items, [[2, 1, 0], [3, 2, 1]])
    items, vals = top_k(scores.copy(), 6)
    np.testing.assert_array_equal(items[0], [1, 2, 0, -1, -1, -1])
    assert np.isneginf(vals[0, 3:]).all()


# --- popularity -------------------------------------------------------------------------

# Three users, four items; worked by hand below.
TINY = sp.csr_matrix(np.array([[2, 1, 0, 0], [0, 1, 0, 1], [1, 1, 0, 3]], dtype=np.float32))


def test_global_popularity_by_hand() -> None:
    # Column sums: 3, 3, 0, 4 -> item 3, then 0 and 1 tied (lower code first), then 2.
    model = PopularityRecommender().fit(TINY)
    items, scores = model.recommend(np.arange(3), TINY, 4)
    np.testing.assert_array_equal(items[0], [3, 0, 1, 2])
    np.testing.assert_array_equal(scores[0], [4, 3, 3, 0])
    items, _ = model.recommend(np.arange(3), TINY, 4, exclude_seen=True)
    np.testing.assert_array_equal(items[1], [0, 2, -1, -1])
    # Buyers: 2, 3, 0, 2 -> item 1 first, then 0 and 3 tied: all-time sales put 3 first.
    by_buyers = PopularityRecommender(count="customers").fit(TINY)
    np.testing.assert_array_equal(by_buyers.recommend(np.arange(1), TINY[:1], 4)[0][0],
                                  [1, 3, 0, 2])  # fmt: skip


def test_trending_popularity_uses_recent_sales_and_falls_back() -> None:
    recent = np.array([0.0, 5.0, 1.0, 0.0])
    model = PopularityRecommender(trending=True).fit(TINY, recent_items=recent)
    # Recent 1 > 2 > (3, 0 tied at 0, all-time sales 4 > 3).
    np.testing.assert_array_equal(model.recommend(np.arange(1), TINY[:1], 4)[0][0], [1, 2, 3, 0])
    no_recent = PopularityRecommender(trending=True).fit(TINY)
    np.testing.assert_array_equal(no_recent.popularity_, [3, 3, 0, 4])


def test_personal_popularity_by_hand() -> None:
    model = PersonalPopularityRecommender().fit(TINY)
    items, scores = model.recommend(np.arange(3), TINY, 3)
    # User 0: item 0 (2) then item 1 (1); user 2: item 3 (3), then 0 and 1 tied
    # at 1: all-time sales tie too (3, 3), so the lower code.
    np.testing.assert_array_equal(items, [[0, 1, -1], [3, 1, -1], [3, 0, 1]])
    np.testing.assert_array_equal(scores[0], [2, 1, -np.inf])
    assert (model.recommend(np.arange(3), TINY, 3, exclude_seen=True)[0] == -1).all()


# --- implicit models against implicit itself ---------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> dict[str, Any]:
    return make_category_data(seed=3)


def test_item_knn_matches_implicit_bm25_recommender(synthetic) -> None:
    X = synthetic["train"]
    users = np.arange(50)
    ref = BM25Recommender(K=30, K1=1.2, B=0.75, num_threads=1)
    with threadpool_limits(1, "blas"), pytest.warns(Warning):  # implicit warns on its COO input
        ref.fit(X, show_progress=False)
    ref_items, ref_scores = ref.recommend(users, X[users], N=10, filter_already_liked_items=True)
    ours = ItemKNNRecommender(neighbours=30).fit(X)
    items, scores = ours.recommend(users, X[users], 10, exclude_seen=True)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-6)
    # Identical scores may be listed in another order; compare the sets per score.
    same = (items == ref_items) | np.isclose(scores, ref_scores)
    assert same.all()


def test_als_matches_implicit_for_the_same_seed(synthetic) -> None:
    X = synthetic["train"]
    users = np.arange(50)
    with threadpool_limits(1, "blas"):
        ref = AlternatingLeastSquares(factors=8, iterations=5, random_state=7, num_threads=1)
        ref.fit(bm25_weight(X, K1=100, B=0.8).tocsr(), show_progress=False)
        ref_items, _ = ref.recommend(users, X[users], N=5, filter_already_liked_items=False)
    ours = ALSRecommender(factors=8, iterations=5, random_state=7).fit(X)
    items, _ = ours.recommend(users, X[users], 5)
    assert (items == ref_items).mean() > 0.95  # float32 vs float64 products may swap near-ties


def test_als_folds_in_an_unseen_user_from_history(synthetic) -> None:
    """A user unseen at fit time (code -1) is solved from the given history."""
    X = synthetic["train"]
    model = ALSRecommender(factors=8, iterations=10, regularization=0.1).fit(X[:250])
    users = np.arange(250, 300)
    items, _ = model.recommend(np.full(50, -1), X[users], 10, exclude_seen=True)
    share = (synthetic["item_category"][items] == synthetic["preferred"][users, None]).mean()
    assert share > 0.5  # chance is 1/6


def test_als_update_user_equals_folding_in(synthetic) -> None:
    X = synthetic["train"]
    model = ALSRecommender(factors=8, iterations=10).fit(X)
    new_row = X[[7]] + X[[8]]
    folded, _ = model.recommend(np.array([-1]), new_row, 10)
    model.update_user(3, new_row)
    updated, _ = model.recommend(np.array([3]), new_row, 10)
    np.testing.assert_array_equal(updated, folded)
    with pytest.raises(KizunaInputError, match="user_code"):
        model.update_user(-1, new_row)


# --- EASE -------------------------------------------------------------------------------

# Four users, two items: Gram matrix [[3, 1], [1, 2]] (item 0 bought by three
# users, item 1 by two, both by one).
EASE_X = sp.csr_matrix(np.array([[1, 1], [1, 0], [4, 0], [0, 1]], dtype=np.float32))


def test_ease_two_items_by_hand() -> None:
    # lambda = 1: G + I = [[4, 1], [1, 3]], P = [[3, -1], [-1, 4]] / 11, and
    # B_ij = -P_ij / P_jj: B_01 = (1/11) / (4/11) = 1/4, B_10 = (1/11) / (3/11) = 1/3.
    # That is the ridge slope of one item on the other: G_01 / (G_ii + lambda).
    # Counts are binarised (user 2's 4 counts as 1).
    # The solve is in single precision (relative error ~1e-7).
    model = EASERecommender(regularization=1.0, neighbours=None).fit(EASE_X)
    np.testing.assert_allclose(model.weights_.toarray(), [[0, 1 / 4], [1 / 3, 0]], rtol=1e-6)
    # A user who bought item 0 (any number of times) scores item 1 at B_01.
    scores = model.score_items(np.array([-1]), sp.csr_matrix(np.array([[5.0, 0.0]])))
    np.testing.assert_allclose(scores, [[0.0, 0.25]])
    items, vals = model.recommend(np.array([1]), EASE_X[[1]], 2, exclude_seen=True)
    np.testing.assert_array_equal(items, [[1, -1]])
    np.testing.assert_allclose(vals[0, 0], 0.25)


def test_ease_columns_are_ridge_regressions_on_the_other_items(synthetic) -> None:
    """Column j of B = ridge regression (no intercept) of item j on all other items."""
    from sklearn.linear_model import Ridge

    X = synthetic["train"][:, :15]
    X = X[np.diff(X.indptr) > 0]
    binary = (X.toarray() > 0).astype(np.float64)
    lam = 5.0
    model = EASERecommender(regularization=lam, neighbours=None).fit(X)
    B = model.weights_.toarray()
    for j in (0, 3, 14):
        others = np.delete(np.arange(15), j)
        ridge = Ridge(alpha=lam, fit_intercept=False).fit(binary[:, others], binary[:, j])
        np.testing.assert_allclose(B[others, j], ridge.coef_, rtol=1e-5, atol=1e-7)  # float32
        assert B[j, j] == 0.0


def test_ease_keeps_the_largest_weights_per_item(synthetic) -> None:
    X = synthetic["train"][:, :15]
    full = EASERecommender(regularization=5.0, neighbours=None).fit(X).weights_.toarray()
    pruned = EASERecommender(regularization=5.0, neighbours=3).fit(X).weights_.toarray()
    for j in range(15):
        kept = np.flatnonzero(pruned[:, j])
        assert len(kept) == 3
        np.testing.assert_allclose(pruned[kept, j], full[kept, j])
        # Every dropped weight is no larger in magnitude than every kept one.
        dropped = np.setdiff1d(np.arange(15), kept)
        assert np.abs(full[dropped, j]).max() <= np.abs(full[kept, j]).min()


def test_mirror_upper_copies_the_upper_triangle_across_blocks() -> None:
    from kizuna.models.recommenders.ease import mirror_upper

    rng = np.random.default_rng(3)
    for n, block in ((7, 3), (10, 10), (11, 4), (1, 2)):
        a = rng.normal(size=(n, n))
        expected = np.triu(a) + np.triu(a, 1).T
        mirror_upper(a, block=block)
        np.testing.assert_array_equal(a, expected)


def test_ease_over_more_items_than_one_block_is_the_closed_form() -> None:
    # 300 items: the in-place mirror runs over two blocks of 256.
    X = sp.random(400, 300, density=0.04, random_state=5, format="csr")
    binary = (X.toarray() > 0).astype(np.float64)
    P = np.linalg.inv(binary.T @ binary + 20.0 * np.eye(300))
    expected = -P / np.diag(P)[None, :]
    np.fill_diagonal(expected, 0.0)
    full = EASERecommender(regularization=20.0, neighbours=None).fit(X).weights_.toarray()
    np.testing.assert_allclose(full, expected, rtol=1e-4, atol=1e-6)  # a float32 solve
    pruned = EASERecommender(regularization=20.0, neighbours=5).fit(X).weights_.toarray()
    for j in (0, 255, 256, 299):
        kept = np.flatnonzero(pruned[:, j])
        assert len(kept) == 5 and j not in kept
        np.testing.assert_array_equal(pruned[kept, j], full[kept, j])
        assert np.abs(np.delete(full[:, j], kept)).max() <= np.abs(full[kept, j]).min()


def test_ease_refuses_a_catalogue_above_max_items() -> None:
    with pytest.raises(KizunaInputError, match="max_items"):
        EASERecommender(max_items=1).fit(EASE_X)
    with pytest.raises(KizunaInputError, match="regularization"):
        EASERecommender(regularization=0.0).fit(EASE_X)


def test_update_users_in_one_batch_equals_one_by_one(synthetic) -> None:
    X = synthetic["train"]
    one = ALSRecommender(factors=8, iterations=10, random_state=3).fit(X)
    batch = ALSRecommender(factors=8, iterations=10, random_state=3).fit(X)
    batch.user_factors_ = one.user_factors_.copy()
    codes = np.array([3, 11, 40])
    rows = sp.csr_matrix(X[[7, 8, 9]] + X[[10, 11, 12]])
    for code, j in zip(codes, range(3), strict=True):
        one.update_user(int(code), rows[j])
    assert batch.update_users(codes, rows) == 3
    np.testing.assert_allclose(batch.user_factors_, one.user_factors_, rtol=1e-5, atol=1e-6)
    with pytest.raises(KizunaInputError, match="user_codes"):
        batch.update_users(np.array([-1]), rows[[0]])
    with pytest.raises(KizunaInputError, match="rows"):
        batch.update_users(codes, rows[[0]])


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (lambda: ALSRecommender(factors=-3), "'factors': must be a whole number of at least 1"),
        (lambda: ALSRecommender(factors=2.5), "'factors': must be a whole number"),
        (lambda: ALSRecommender(iterations=0), "'iterations': must be a whole number of at le"),
        # implicit ended the whole process on K=0 (a segmentation fault), K=-3 an OverflowError
        (lambda: ItemKNNRecommender(neighbours=0), "'neighbours': must be a whole number"),
        (lambda: ItemKNNRecommender(neighbours=-3), "'neighbours': must be a whole number"),
        (lambda: HybridRecommender(knn_neighbours=0), "'neighbours': must be a whole number"),
        (lambda: ItemKNNRecommender(bm25_b=-1.0), "'bm25_b': must be a number at least 0"),
        (lambda: ALSRecommender(alpha=0.0), "'alpha': must be a number greater than 0"),
        (lambda: BPRRecommender(learning_rate=-1.0), "'learning_rate': must be a number greater"),
        (lambda: BPRRecommender(regularization=-0.1), "'regularization': must be a number at"),
    ],
)
def test_factorisation_settings_out_of_range_are_named_in_fit(synthetic, model, words) -> None:
    with pytest.raises(KizunaInputError, match=words):
        model().fit(synthetic["train"])
