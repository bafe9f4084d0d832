"""Ranking metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.training.metrics import (
    hit_matrix,
    map_at_k,
    ndcg_at_k,
    ndcg_of_hits,
    per_user_ranking_metrics,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)
from kizuna.training.metrics_coverage import catalogue_coverage, mean_popularity
from kizuna.training.ranking_truth import TruthIndex

LOG2_3 = np.log2(3.0)
LOG2_4 = 2.0

# User 0: one hit at rank 2 of 3, truth {2, 9} (9 is outside the catalogue).
# User 1: no hit, a padded slot, truth {7}.
# User 2: empty truth -> left out of every average.
RECS = np.array([[1, 2, 3], [4, 5, -1], [1, 2, 3]])
TRUTH = [np.array([2, 9]), np.array([7]), np.array([], dtype=np.int64)]


def test_hit_matrix() -> None:
    hits, n_rel = hit_matrix(RECS, TRUTH)
    np.testing.assert_array_equal(hits, [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(n_rel, [2, 1, 0])


def test_precision_recall_by_hand() -> None:
    assert precision_at_k(RECS, TRUTH) == pytest.approx((1 / 3 + 0) / 2)
    assert recall_at_k(RECS, TRUTH) == pytest.approx((1 / 2 + 0) / 2)
    # At k=1 user 0's hit is cut off.
    assert precision_at_k(RECS, TRUTH, k=1) == 0.0


def test_ndcg_by_hand() -> None:
    # User 0: DCG = 1/log2(3); ideal over min(3, 2) = 2 hits = 1 + 1/log2(3).
    user0 = (1 / LOG2_3) / (1 + 1 / LOG2_3)
    assert ndcg_at_k(RECS, TRUTH) == pytest.approx(user0 / 2)
    # Perfect ranking scores 1; more relevant items than k still scores 1.
    assert ndcg_at_k(np.array([[4, 5]]), [np.array([4, 5, 6, 7])]) == pytest.approx(1.0)
    # A hit at rank 3 with a single relevant item: 1/log2(4).
    assert ndcg_at_k(np.array([[0, 1, 2]]), [np.array([2])]) == pytest.approx(1 / LOG2_4)


def test_map_by_hand() -> None:
    # User 0: precision@2 = 1/2 at its only hit, over min(3, 2) = 2 -> 0.25.
    assert map_at_k(RECS, TRUTH) == pytest.approx(0.25 / 2)
    # Truth {a, b, c} = {0, 2, 5}; ranks 1 and 3 hit: (1 + 2/3) / min(4, 3).
    assert map_at_k(np.array([[0, 8, 2, 9]]), [np.array([0, 2, 5])]) == pytest.approx(
        (1 + 2 / 3) / 3
    )


def test_sparse_truth_equals_list_truth() -> None:
    dense = np.zeros((3, 10))
    dense[0, [2, 9]] = 1
    dense[1, 7] = 1
    as_matrix = sp.csr_matrix(dense)
    assert ranking_metrics(RECS, as_matrix) == ranking_metrics(RECS, TRUTH)


def test_duplicates_in_the_truth_count_once() -> None:
    assert recall_at_k(np.array([[2, 3]]), [np.array([2, 2, 5])]) == pytest.approx(1 / 2)


def test_coverage_and_popularity_by_hand() -> None:
    # Recommended codes {1, 2, 3, 4, 5} of a 10-item catalogue; padding skipped.
    assert catalogue_coverage(RECS, 10) == pytest.approx(0.5)
    assert catalogue_coverage(RECS, 10, k=1) == pytest.approx(0.2)  # {1, 4}
    popularity = np.arange(10) / 10
    shown = [1, 2, 3, 4, 5, 1, 2, 3]
    assert mean_popularity(RECS, popularity) == pytest.approx(np.mean(shown) / 10)


def test_ranking_metrics_bundle() -> None:
    out = ranking_metrics(RECS, TRUTH, k=3, n_items=10, item_popularity=np.ones(10))
    assert out["n_users"] == 2
    assert out["ndcg"] == pytest.approx(ndcg_at_k(RECS, TRUTH))
    assert out["map"] == pytest.approx(map_at_k(RECS, TRUTH))
    assert out["coverage"] == pytest.approx(0.5) and out["mean_popularity"] == 1.0
    per_user = per_user_ranking_metrics(RECS, TRUTH)
    assert np.isnan(per_user["ndcg"][2]) and per_user["recall"][0] == pytest.approx(0.5)


def test_no_user_with_truth_gives_nan() -> None:
    assert np.isnan(ndcg_at_k(np.array([[1]]), [np.array([], dtype=np.int64)]))


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(KizunaInputError, match="same item twice"):
        ndcg_at_k(np.array([[1, 1]]), [np.array([1])])
    with pytest.raises(KizunaInputError, match="users"):
        ndcg_at_k(RECS, TRUTH[:2])
    with pytest.raises(KizunaInputError, match="'k'"):
        ndcg_at_k(RECS, TRUTH, k=4)
    with pytest.raises(KizunaInputError, match="2-D integer"):
        ndcg_at_k(np.array([1.0, 2.0]), TRUTH)
    with pytest.raises(KizunaInputError, match="item_popularity"):
        mean_popularity(RECS, np.ones(3))


def test_ndcg_of_hits_gives_ndcg_at_k_to_the_last_bit() -> None:
    index = TruthIndex(TRUTH, 3)
    assert ndcg_of_hits(index.hits(RECS), index.n_relevant) == ndcg_at_k(RECS, TRUTH)
    # User 0 at k=2: a hit at rank 2 over an ideal of two hits; user 1: none.
    expected = (1 / LOG2_3) / (1 + 1 / LOG2_3) / 2
    hits = index.hits(RECS[:, :2])
    assert ndcg_of_hits(hits, index.n_relevant) == ndcg_at_k(RECS, TRUTH, 2)
    assert ndcg_of_hits(hits, index.n_relevant) == pytest.approx(expected)
    # As the tuning grid uses it: candidates looked up once, each ranking a gather.
    rng = np.random.default_rng(0)
    truth = sp.random(50, 40, density=0.05, format="csr", random_state=1)  # codes up to 39
    index = TruthIndex(truth, 50)
    candidates = np.argsort(rng.random((50, 40)), axis=1)[:, :30]
    relevant = index.hits(candidates)
    for _ in range(20):  # many rankings of the same candidates
        top = np.argsort(rng.random((50, 30)), axis=1)[:, :10]
        recs = np.take_along_axis(candidates, top, axis=1)
        hits = np.take_along_axis(relevant, top, axis=1)
        assert ndcg_of_hits(hits, index.n_relevant) == ndcg_at_k(recs, truth, 10)
    empty = TruthIndex([np.array([], dtype=np.int64)], 1)
    assert np.isnan(ndcg_of_hits(empty.hits(np.array([[1]])), empty.n_relevant))


def test_an_index_refuses_rankings_of_other_users() -> None:
    with pytest.raises(KizunaInputError, match="3 users"):
        ndcg_at_k(RECS[:2], TruthIndex(TRUTH, 3))
