"""Per-user state cut out of a fitted recommender: the same answers from a model of few users."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from kizuna.features.purchase_timing import purchase_timing
from kizuna.models.recommenders import (
    ALSRecommender,
    BPRRecommender,
    HybridRecommender,
    ItemKNNRecommender,
)
from kizuna.models.recommenders.reranker import RerankedRecommender
from kizuna.training.recommender_eval import holdout_split
from tests.models.recommender_contract import make_category_data
from tests.models.test_reranker import FAST, _cycle_shop, _pretrained

CODES = np.array([17, 0, 5, 299, 42])  # fitted users, in no particular order


def _hybrid() -> HybridRecommender:
    return HybridRecommender(als_factors=8, als_iterations=3, knn_neighbours=10, ease_weight=0.2)


@pytest.mark.parametrize(
    "make",
    [
        _hybrid,
        lambda: ALSRecommender(factors=8, iterations=3),
        lambda: BPRRecommender(factors=8, iterations=5),
        lambda: ItemKNNRecommender(neighbours=10),
    ],
    ids=["hybrid", "als", "bpr", "item_knn"],
)
@pytest.mark.parametrize("exclude_seen", [False, True])
def test_a_model_of_some_users_recommends_as_the_whole_one(make, exclude_seen: bool) -> None:
    train = make_category_data()["train"]
    model = make().fit(train)
    rows = train[CODES]
    want = model.recommend(CODES, rows, 8, exclude_seen=exclude_seen)
    few = model.for_users(model.user_state(CODES))
    got = few.recommend(np.arange(len(CODES)), rows, 8, exclude_seen=exclude_seen)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert few.n_users_ == len(CODES) and model.n_users_ == train.shape[0]
    # Without fitted users, everyone is scored as an unseen user, as in the whole model.
    unseen = np.full(len(CODES), -1)
    bare = model.for_users(None)
    np.testing.assert_array_equal(
        bare.recommend(unseen, rows, 8, exclude_seen=exclude_seen)[0],
        model.recommend(unseen, rows, 8, exclude_seen=exclude_seen)[0],
    )


def test_the_item_side_alone_holds_no_user_rows() -> None:
    train = make_category_data(n_users=3_000)["train"]
    model = _hybrid().fit(train)
    bare = model.for_users(None)
    assert bare.als_.user_factors_.shape == (0, model.als_.user_factors_.shape[1])
    assert model.als_.user_factors_.shape[0] == 3_000  # the fitted model is untouched
    assert len(pickle.dumps(bare)) < len(pickle.dumps(model)) - 3_000 * 8 * 4


def test_user_state_refuses_codes_outside_the_fitted_users() -> None:
    from kizuna.features.errors import KizunaInputError

    model = _hybrid().fit(make_category_data()["train"])
    with pytest.raises(KizunaInputError, match="fitted users' codes"):
        model.user_state(np.array([0, 300]))


def test_the_rerankers_timing_travels_with_its_users() -> None:
    tx = _cycle_shop()
    split = holdout_split(tx, tx["timestamp"].max().normalize(), 7)
    matrix, users, items = split.train.matrix, split.train.user_ids, split.train.item_ids
    model = RerankedRecommender(**FAST, rankers=_pretrained()).fit(
        matrix, timing=purchase_timing(tx, split.as_of, users, items)
    )
    codes = np.array([3, 0, 11, 7])
    rows = matrix[codes]
    few = model.for_users(model.user_state(codes))
    assert few.timing_.last_days.shape == (len(codes), matrix.shape[1])
    for exclude_seen in (False, True):
        want = model.recommend(codes, rows, 5, exclude_seen=exclude_seen)
        got = few.recommend(np.arange(len(codes)), rows, 5, exclude_seen=exclude_seen)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
