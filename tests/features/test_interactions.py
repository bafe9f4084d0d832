"""build_interactions on the tiny shop of test_behaviour, weights worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from implicit.nearest_neighbours import bm25_weight, tfidf_weight

from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import Interactions, InteractionWeigher, build_interactions
from tests.features.test_behaviour import AS_OF, DAY, make_tx, tiny_transactions

# Purchases before AS_OF (returns left out): users a, b, c; items x, y, z.
# Distinct orders per pair: a-x in o1, o2, o3 -> 3; a-y o1 -> 1; a-z o3 -> 1;
# b-y o4 -> 1; c-z o6 -> 1. (e only returned, so it is not a user.)
COUNTS = np.array([[3, 1, 1], [0, 1, 0], [0, 0, 1]], dtype=float)


def test_counts_are_distinct_orders_per_user_and_item():
    # A second line of x in o2 and a big quantity must not count again.
    extra = make_tx([("a", "o2", "x", AS_OF - 100 * DAY, 50, 10, "books")])
    tx = pd.concat([tiny_transactions(), extra], ignore_index=True)
    inter = build_interactions(tx, AS_OF)
    assert isinstance(inter, Interactions)
    assert list(inter.user_ids) == ["a", "b", "c"]
    assert list(inter.item_ids) == ["x", "y", "z"]
    assert isinstance(inter.matrix, sp.csr_matrix)
    assert inter.matrix.dtype == np.float32
    assert inter.matrix.has_canonical_format
    np.testing.assert_array_equal(inter.matrix.toarray(), COUNTS)
    assert inter.n_dropped_rows == 0


def test_log_weighting():
    inter = build_interactions(tiny_transactions(), AS_OF, weighting="log")
    expected = np.where(COUNTS > 0, np.log1p(COUNTS), 0)  # a-x: log(4) = 1.386...
    np.testing.assert_allclose(inter.matrix.toarray(), expected, rtol=1e-6)


@pytest.mark.parametrize("weighting", ["bm25", "tfidf"])
def test_bm25_and_tfidf_equal_implicit_on_the_same_counts(weighting):
    inter = build_interactions(tiny_transactions(), AS_OF, weighting=weighting,
                               bm25_k1=1.2, bm25_b=0.75)  # fmt: skip
    counts = sp.csr_matrix(COUNTS)
    ref = bm25_weight(counts, K1=1.2, B=0.75) if weighting == "bm25" else tfidf_weight(counts)
    np.testing.assert_allclose(inter.matrix.toarray(), ref.toarray(), rtol=1e-6)
    # Structure unchanged: the weights live on the purchased pairs only.
    assert inter.matrix.nnz == 5


def test_time_decay_by_hand():
    inter = build_interactions(tiny_transactions(), AS_OF, half_life_days=100)
    half = 0.5
    expected = np.zeros((3, 3))
    expected[0, 0] = half**2 + half**1 + half**0.3  # a-x: orders 200, 100 and 30 days old
    expected[0, 1] = half**2  # a-y: o1, 200 days
    expected[0, 2] = half**0.3  # a-z: o3 is dated by its earliest line, 30 days
    expected[1, 1] = half**0.095  # b-y: 9.5 days
    expected[2, 2] = half**4  # c-z: 400 days
    np.testing.assert_allclose(inter.matrix.toarray(), expected, rtol=1e-6)
    log_decayed = build_interactions(tiny_transactions(), AS_OF, half_life_days=100,
                                     weighting="log")  # fmt: skip
    np.testing.assert_allclose(log_decayed.matrix.toarray(), np.log1p(expected), rtol=1e-6)


def test_reusing_the_maps_drops_unknown_users_and_items():
    train = build_interactions(tiny_transactions(), AS_OF)
    extra = make_tx([("a", "o9", "w", AS_OF + DAY, 1, 3, "toys")])  # unknown item w
    tx = pd.concat([tiny_transactions(), extra], ignore_index=True)
    later = build_interactions(tx, AS_OF + 20 * DAY, user_ids=train.user_ids,
                               item_ids=train.item_ids)  # fmt: skip
    assert later.user_ids.equals(train.user_ids) and later.item_ids.equals(train.item_ids)
    # New since AS_OF: b-x (o5 at AS_OF), c-z (o7), d-x (o8, d unknown), a-w (w unknown).
    expected = COUNTS.copy()
    expected[1, 0] += 1
    expected[2, 2] += 1
    np.testing.assert_array_equal(later.matrix.toarray(), expected)
    assert later.n_dropped_rows == 2


def test_a_given_map_keeps_its_order():
    inter = build_interactions(tiny_transactions(), AS_OF, user_ids=["c", "b", "a"],
                               item_ids=["z", "y", "x"])  # fmt: skip
    np.testing.assert_array_equal(inter.matrix.toarray(), COUNTS[::-1, ::-1])


def test_code_helpers():
    inter = build_interactions(tiny_transactions(), AS_OF)
    np.testing.assert_array_equal(inter.user_codes(["b", "zz", "a"]), [1, -1, 0])
    np.testing.assert_array_equal(inter.item_codes(pd.Series(["z", "x"])), [2, 0])
    assert inter.shape == (3, 3)


def test_nothing_before_as_of_gives_an_empty_matrix():
    for weighting in ("count", "bm25"):
        inter = build_interactions(tiny_transactions(), AS_OF - 1000 * DAY, weighting=weighting)
        assert inter.shape == (0, 0) and inter.matrix.nnz == 0


def test_bad_arguments_raise():
    tx = tiny_transactions()
    with pytest.raises(KizunaInputError, match="weighting"):
        build_interactions(tx, AS_OF, weighting="pmi")
    with pytest.raises(KizunaInputError, match="half_life_days"):
        build_interactions(tx, AS_OF, half_life_days=0)
    with pytest.raises(KizunaInputError, match="repeated"):
        build_interactions(tx, AS_OF, user_ids=["a", "a"])


# --- the one weighting transformer ---------------------------------------------------


def _random_counts(seed: int = 0, shape: tuple[int, int] = (300, 80)) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.poisson(0.3, shape) * (rng.random(shape) < 0.2)
    dense[:, -1] = 0  # an item nobody bought
    return sp.csr_matrix(dense.astype(np.float64))


@pytest.mark.parametrize(
    ("weighting", "reference"),
    [
        ("bm25", lambda X: bm25_weight(X, K1=100.0, B=0.8)),
        ("bm25", None),  # k1 / b other than the defaults, below
        ("tfidf", tfidf_weight),
    ],
)
def test_weigher_equals_implicit_on_the_full_matrix(weighting, reference):
    X = _random_counts()
    if reference is None:
        weigher = InteractionWeigher("bm25", k1=1.2, b=0.75)
        reference = lambda M: bm25_weight(M, K1=1.2, B=0.75)  # noqa: E731
    else:
        weigher = InteractionWeigher(weighting)
    ours = weigher.fit_transform(X)
    theirs = sp.csr_matrix(reference(X.copy()), dtype=np.float32)
    assert ours.dtype == np.float32 and ours.has_canonical_format
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("weighting", ["count", "log", "bm25", "tfidf"])
def test_weigher_weighs_new_rows_as_the_population(weighting):
    """A row weighed alone (serving's refreshed history) equals its row in the full matrix."""
    X = _random_counts(seed=1)
    weigher = InteractionWeigher(weighting).fit(X)
    full = weigher.transform(X)
    for i in (0, 5, 123):
        np.testing.assert_array_equal(weigher.transform(X[[i]]).toarray(), full[[i]].toarray())
    assert [k for k in vars(InteractionWeigher(weighting)) if k.endswith("_")] == []


@pytest.mark.parametrize("weighting", ["bm25", "tfidf"])
def test_weigher_from_shard_sums_equals_the_weigher_of_the_whole_matrix(weighting):
    """Sums added up over row shards (the Spark export) give the same fitted weighting."""
    X = sp.csr_matrix(_random_counts(seed=2))
    shards = [X[:100], X[100:]]
    n_users = sum(part.shape[0] for part in shards)
    users_with = sum(np.bincount(part.indices, minlength=X.shape[1]) for part in shards)
    total = sum(float(part.sum()) for part in shards)
    whole = InteractionWeigher(weighting).fit(X)
    summed = InteractionWeigher(weighting).fit_statistics(n_users, users_with, total / n_users)
    np.testing.assert_array_equal(summed.idf_, whole.idf_)
    assert summed.average_length_ == pytest.approx(whole.average_length_, rel=1e-12)
    np.testing.assert_allclose(summed.transform(X).toarray(), whole.transform(X).toarray())


def test_weigher_by_hand_and_input_errors():
    # COUNTS: 3 users, item x bought by 1 user, y by 2, z by 2; row sums 5, 1, 1.
    weigher = InteractionWeigher("tfidf").fit(sp.csr_matrix(COUNTS))
    np.testing.assert_allclose(weigher.idf_, np.log(3) - np.log1p([1, 2, 2]))
    assert weigher.average_length_ == pytest.approx(7 / 3)
    np.testing.assert_allclose(
        weigher.transform(sp.csr_matrix([[4.0, 0, 0]])).toarray(),
        [[2 * (np.log(3) - np.log(2)), 0, 0]],
        rtol=1e-6,
    )
    with pytest.raises(KizunaInputError, match="weighting"):
        InteractionWeigher("nope").fit(sp.csr_matrix(COUNTS))
    with pytest.raises(KizunaInputError, match="items"):
        weigher.transform(sp.csr_matrix(np.ones((1, 4))))
