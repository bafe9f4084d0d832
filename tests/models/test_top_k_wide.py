"""Top-k on wide rows (the bounded path of ``top_k``) and the hybrid's in-place blend."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from kizuna.models.recommenders import HybridRecommender, top_k
from kizuna.models.recommenders.ranking import _top_k_full
from tests.models.recommender_contract import make_category_data

WIDE = 600  # wider than the column sample (256), so top_k bounds each row first


def _wide_rows() -> np.ndarray:
    scores = np.zeros((3, WIDE))
    scores[0, [10, 500]] = 5.0
    scores[0, [300, 599]] = 4.0
    scores[1, :300] = -np.inf  # the whole sample excluded: this row takes the full path
    scores[1, 400], scores[1, 450] = 1.0, 2.0
    scores[2] = -np.inf
    scores[2, 599] = 1.0
    return scores


def test_wide_rows_worked_by_hand() -> None:
    items, vals = top_k(_wide_rows(), 3)
    # Ties go to the lower column: 10 before 500, 300 before 599; row 1's third
    # pick is the first zero after the excluded columns; row 2 pads.
    np.testing.assert_array_equal(items, [[10, 500, 300], [450, 400, 300], [599, -1, -1]])
    np.testing.assert_array_equal(vals[0], [5.0, 5.0, 4.0])
    np.testing.assert_array_equal(vals[1], [2.0, 1.0, 0.0])
    assert vals[2, 0] == 1.0 and np.isneginf(vals[2, 1:]).all()
    # Preferred order: highest column first, so ties flip.
    items, _ = top_k(_wide_rows(), 3, np.arange(WIDE)[::-1].copy())
    np.testing.assert_array_equal(items, [[500, 10, 599], [450, 400, 599], [599, -1, -1]])


@pytest.mark.parametrize("kind", ["continuous", "ties", "mostly_excluded", "nan"])
@pytest.mark.parametrize("with_order", [False, True])
def test_bounded_path_gives_the_full_partitions_answer(kind: str, with_order: bool) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, m, k = int(rng.integers(1, 30)), int(rng.integers(WIDE, 2_000)), int(rng.integers(1, 25))
        if kind == "continuous":
            scores = rng.random((n, m))
        elif kind == "ties":
            scores = rng.integers(0, 4, (n, m)).astype(float)
        elif kind == "mostly_excluded":
            scores = np.where(rng.random((n, m)) < 0.97, -np.inf, rng.random((n, m)))
        else:
            scores = rng.integers(0, 3, (n, m)).astype(float)
            scores[rng.random((n, m)) < 0.5] = np.nan
        order = rng.permutation(m) if with_order else None
        items, vals = top_k(scores.copy(), k, order)
        want_items, want_vals = _top_k_full(scores.copy(), k, order)
        np.testing.assert_array_equal(items, want_items)
        np.testing.assert_array_equal(vals, want_vals)


@pytest.mark.parametrize("exclude_seen", [False, True])
def test_hybrid_blend_equals_the_sum_of_its_components(exclude_seen: bool) -> None:
    data = make_category_data()
    user_items = data["train"]
    recent = data["future"]  # any per-item sales will do as the trending input
    model = HybridRecommender(
        ease_weight=0.3, als_factors=8, als_iterations=3, knn_neighbours=10
    ).fit(user_items, recent_items=recent)
    codes = np.r_[np.arange(user_items.shape[0]), -1]
    rows = sp.vstack([user_items, user_items[:1]], format="csr").astype(np.float32)
    want = model.component_scores(codes, rows, exclude_seen=exclude_seen).sum(axis=0)
    assert (want > 0).mean() > 0.5  # every component takes part, not a blank blend
    blended = model._blend(codes, rows, exclude_seen=exclude_seen)
    np.testing.assert_array_equal(blended, want)  # bit for bit, not within a tolerance
