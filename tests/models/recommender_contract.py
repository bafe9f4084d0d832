"""The shared contract of every recommender: a new one costs a few lines of tests::

    class TestMyRecommender(RecommenderContract):
        def make_model(self):
            return MyRecommender(fast_setting=1)

It checks the scikit-learn rules (params, clone, fitted state), the input
errors, the output conventions of ``models.recommenders.base`` (shapes, order,
``-1`` / ``-inf`` padding, masks, empty histories, unseen users), batching,
determinism, pickling, and - for personalised models - that the model learns
known category preferences from synthetic data.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders import Recommender


def make_category_data(
    n_users: int = 300,
    n_items: int = 120,
    n_categories: int = 6,
    *,
    purchases: int = 16,
    loyalty: float = 0.85,
    seed: int = 0,
) -> dict[str, Any]:
    """Purchases driven by a known preferred category per user.

    Item ``i`` belongs to category ``i % n_categories``; within a category,
    item popularity is Zipf-like. Each user draws ``purchases`` items: with
    probability ``loyalty`` from their preferred category, otherwise from the
    whole catalogue, both by popularity. A second, independent draw of the same
    process is the "future" for holdout checks.

    Returns
    -------
    dict with ``train`` / ``future`` (csr counts, (n_users, n_items)),
    ``item_category`` (n_items,), ``preferred`` (n_users,).
    """
    rng = np.random.default_rng(seed)
    item_category = np.arange(n_items) % n_categories
    weight = 1.0 / (1.0 + np.arange(n_items) // n_categories) ** 0.8
    preferred = rng.integers(0, n_categories, n_users)

    def draw() -> sp.csr_matrix:
        users = np.repeat(np.arange(n_users), purchases)
        loyal = rng.random(users.size) < loyalty
        items = np.empty(users.size, dtype=np.int64)
        everything = weight / weight.sum()
        items[~loyal] = rng.choice(n_items, size=int((~loyal).sum()), p=everything)
        for c in range(n_categories):
            pick = loyal & (preferred[users] == c)
            in_c = np.flatnonzero(item_category == c)
            p = weight[in_c] / weight[in_c].sum()
            items[pick] = rng.choice(in_c, size=int(pick.sum()), p=p)
        ones = np.ones(users.size, np.float32)
        m = sp.csr_matrix((ones, (users, items)), shape=(n_users, n_items))
        m.sum_duplicates()
        return m

    return {"train": draw(), "future": draw(), "item_category": item_category,
            "preferred": preferred}  # fmt: skip


def _descending(scores: np.ndarray) -> bool:
    finite = np.where(np.isneginf(scores), -1e300, scores)
    return bool(np.all(np.diff(finite, axis=1) <= 1e-12))


class RecommenderContract:
    """Subclass and define ``make_model``; set ``personalised = False`` for popularity."""

    #: Whether recommendations should follow each user's history (False for
    #: models that give everyone the same list).
    personalised = True
    #: Minimum share of top-10 new items in the user's preferred category.
    min_category_share = 0.8

    def make_model(self) -> Recommender:
        raise NotImplementedError("return an unfitted recommender with fast settings")

    def fit_kwargs(self, data: dict[str, Any]) -> dict[str, Any]:
        """Extra fit inputs: recent sales (last user rows) and item categories."""
        return {"recent_items": data["train"][-50:], "item_categories": data["item_category"]}

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> dict[str, Any]:
        return make_category_data()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, data: dict[str, Any]) -> Recommender:
        case = cls()
        return case.make_model().fit(data["train"], **case.fit_kwargs(data))

    # --- scikit-learn rules ---------------------------------------------------------

    def test_init_only_stores_params(self) -> None:
        model = self.make_model()
        assert clone(model).get_params() == model.get_params()
        assert not [k for k in vars(model) if k.endswith("_")]

    def test_fit_returns_self(self, data: dict[str, Any]) -> None:
        model = self.make_model()
        assert model.fit(data["train"], **self.fit_kwargs(data)) is model
        assert model.n_items_ == data["train"].shape[1]

    def test_unfitted_raises(self, data: dict[str, Any]) -> None:
        with pytest.raises(NotFittedError):
            self.make_model().recommend(np.arange(2), data["train"][:2], 3)

    def test_same_params_same_result(self, fitted: Recommender, data: dict[str, Any]) -> None:
        twin = clone(fitted).fit(data["train"], **self.fit_kwargs(data))
        users = np.arange(40)
        a = fitted.recommend(users, data["train"][users], 10)
        b = twin.recommend(users, data["train"][users], 10)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1])

    def test_pickle_round_trip(self, fitted: Recommender, data: dict[str, Any]) -> None:
        again = pickle.loads(pickle.dumps(fitted))
        users = np.arange(20)
        np.testing.assert_array_equal(
            again.recommend(users, data["train"][users], 5)[0],
            fitted.recommend(users, data["train"][users], 5)[0],
        )

    # --- input errors -------------------------------------------------------------------

    def test_dense_or_negative_input_is_an_input_error(self, data: dict[str, Any]) -> None:
        with pytest.raises(KizunaInputError, match="user_items"):
            self.make_model().fit(data["train"].toarray())
        negative = data["train"].copy()
        negative.data[0] = -1.0
        with pytest.raises(KizunaInputError, match="non-negative"):
            self.make_model().fit(negative)

    def test_row_count_mismatch_is_an_input_error(
        self, fitted: Recommender, data: dict[str, Any]
    ) -> None:
        with pytest.raises(KizunaInputError, match="one row per user code"):
            fitted.recommend(np.arange(3), data["train"][:2], 5)

    def test_bad_k_and_mask_are_input_errors(
        self, fitted: Recommender, data: dict[str, Any]
    ) -> None:
        with pytest.raises(KizunaInputError, match="'k'"):
            fitted.recommend(np.arange(2), data["train"][:2], 0)
        with pytest.raises(KizunaInputError, match="item_mask"):
            fitted.recommend(np.arange(2), data["train"][:2], 3, item_mask=np.ones(3, bool))

    # --- output conventions -------------------------------------------------------------

    def test_shapes_order_and_no_duplicates(
        self, fitted: Recommender, data: dict[str, Any]
    ) -> None:
        users = np.arange(60)
        items, scores = fitted.recommend(users, data["train"][users], 10)
        assert items.shape == scores.shape == (60, 10)
        assert items.dtype == np.int64 and scores.dtype == np.float64
        assert np.all((items >= -1) & (items < fitted.n_items_))
        assert _descending(scores)
        assert np.all((items == -1) == np.isneginf(scores))
        for row in items:
            valid = row[row >= 0]
            assert len(np.unique(valid)) == len(valid)

    def test_exclude_seen_drops_bought_items(
        self, fitted: Recommender, data: dict[str, Any]
    ) -> None:
        users = np.arange(60)
        rows = data["train"][users]
        items, _ = fitted.recommend(users, rows, 10, exclude_seen=True)
        dense = rows.toarray() > 0
        shown = items >= 0
        assert not dense[np.nonzero(shown)[0], items[shown]].any()

    def test_item_mask_is_respected(self, fitted: Recommender, data: dict[str, Any]) -> None:
        mask = np.zeros(fitted.n_items_, dtype=bool)
        mask[::3] = True
        users = np.arange(30)
        items, _ = fitted.recommend(users, data["train"][users], 10, item_mask=mask)
        assert np.all(mask[items[items >= 0]])

    def test_k_larger_than_catalogue_pads(self, fitted: Recommender, data: dict[str, Any]) -> None:
        k = fitted.n_items_ + 5
        items, scores = fitted.recommend(np.arange(3), data["train"][:3], k)
        assert items.shape == (3, k)
        assert np.all(items[:, -5:] == -1) and np.all(np.isneginf(scores[:, -5:]))

    def test_empty_history_and_unseen_user(self, fitted: Recommender, data: dict[str, Any]) -> None:
        empty = sp.csr_matrix((2, fitted.n_items_), dtype=np.float32)
        items, scores = fitted.recommend(np.array([0, -1]), empty, 5)
        assert items.shape == (2, 5)
        if fitted.only_seen_items:
            assert np.all(items == -1)
        else:
            assert np.all(items >= 0) and np.all(np.isfinite(scores))

    def test_batch_equals_one_by_one(self, fitted: Recommender, data: dict[str, Any]) -> None:
        users = np.array([5, 17, 42, 99])
        batch, _ = fitted.recommend(users, data["train"][users], 8, exclude_seen=True)
        for j, u in enumerate(users):
            one, _ = fitted.recommend(np.array([u]), data["train"][[u]], 8, exclude_seen=True)
            np.testing.assert_array_equal(one[0], batch[j])

    def test_update_user_follows_the_new_history(
        self, fitted: Recommender, data: dict[str, Any]
    ) -> None:
        """``update_user`` (serving's refresh after new purchases) on every model family.

        A model that keeps something per user and changed it now ranks the
        user as it ranks an unseen user with that history (folding in); one
        that keeps nothing ranks exactly as before the call.
        """
        model = pickle.loads(pickle.dumps(fitted))  # the fixture is shared: update a copy
        new_row = data["train"][[7]] + data["train"][[8]]
        before, _ = model.recommend(np.array([3]), new_row, 10)
        changed = model.update_user(3, new_row)
        assert isinstance(changed, bool)
        after, _ = model.recommend(np.array([3]), new_row, 10)
        if changed:
            folded, _ = model.recommend(np.array([-1]), new_row, 10)
            np.testing.assert_array_equal(after, folded)
        else:
            np.testing.assert_array_equal(after, before)
        with pytest.raises(KizunaInputError, match="user_code"):
            model.update_user(-1, new_row)
        with pytest.raises(KizunaInputError, match="user_code"):
            model.update_user(model.n_users_, new_row)
        with pytest.raises(KizunaInputError, match="row"):
            model.update_user(3, data["train"][[7, 8]])

    def test_similar_items_exclude_the_query(self, fitted: Recommender) -> None:
        query = np.array([0, 7, 50])
        items, scores = fitted.similar_items(query, 6)
        assert items.shape == scores.shape == (3, 6)
        assert not np.any(items == query[:, None])
        assert _descending(scores)
        with pytest.raises(KizunaInputError, match="item_codes"):
            fitted.similar_items(np.array([fitted.n_items_]), 3)

    # --- learning ---------------------------------------------------------------------

    def test_learns_category_preferences(self, fitted: Recommender, data: dict[str, Any]) -> None:
        """Top-10 new items concentrate on each user's preferred category."""
        if not self.personalised or fitted.only_seen_items:
            pytest.skip("not a personalised model of new items")
        users = np.arange(data["train"].shape[0])
        items, _ = fitted.recommend(users, data["train"], 10, exclude_seen=True)
        shown = items >= 0
        in_preferred = data["item_category"][items] == data["preferred"][:, None]
        share = in_preferred[shown].mean()
        chance = 1.0 / (data["item_category"].max() + 1)
        assert share >= self.min_category_share, f"share {share:.2f}, chance {chance:.2f}"

    def test_beats_popularity_on_the_future(
        self, fitted: Recommender, data: dict[str, Any]
    ) -> None:
        """More hits on a fresh draw of the same users' purchases than global popularity."""
        if not self.personalised:
            pytest.skip("not personalised")
        users = np.arange(data["train"].shape[0])
        truth = data["future"]
        mine, _ = fitted.recommend(users, data["train"], 10)
        popular = np.broadcast_to(fitted.tiebreak_order_[:10], mine.shape)
        dense = truth.toarray() > 0
        rows = np.arange(len(users))[:, None]
        my_hits = dense[rows, np.maximum(mine, 0)] & (mine >= 0)
        assert my_hits.sum() > 2.0 * dense[rows, popular].sum()
