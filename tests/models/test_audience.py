"""Audience scoring on a 3-customer, 3-item example worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.models.audience import (
    affinity,
    best_target_score,
    reasons,
    scaled_affinity,
    scaled_scores,
    score_ranges,
    target_rank,
    top_audience,
)


def test_affinity_rescales_within_each_customer() -> None:
    scores = np.array([[1.0, 3.0, 2.0], [10.0, 0.0, 20.0], [5.0, 5.0, -np.inf]])
    aff, rank = affinity(scores, np.array([False, False, True]))
    # c0: (2-1)/(3-1) = 0.5, rank 2; c1: 1.0, rank 1; c2: cannot score item 2.
    np.testing.assert_allclose(aff, [0.5, 1.0, np.nan])
    assert rank[:2].tolist() == [2, 1]
    # a category takes its best item
    aff_cat, _ = affinity(scores, np.array([True, False, True]))
    np.testing.assert_allclose(aff_cat, [0.5, 1.0, 0.0])


def test_top_audience_multiplies_by_p_order_and_excludes_recent_buyers() -> None:
    ids = pd.Index(["a", "b", "c", "d"])
    aff = np.array([1.0, 0.5, 0.9, np.nan])
    p = np.array([0.2, 0.8, 0.5, 0.9])
    out = top_audience(ids, aff, p, np.array([False, False, True, False]), 5)
    # c excluded, d unscorable; b 0.4 > a 0.2
    assert out["customer_id"].tolist() == ["b", "a"]
    assert out["score"].tolist() == pytest.approx([0.4, 0.2])
    assert len(top_audience(ids, aff, p, np.zeros(4, bool), 1)) == 1


def test_reasons_read_like_a_marketer_wrote_them() -> None:
    row = pd.Series({"p_order": 0.42, "item_rank": 3})
    text = reasons(row, horizon_days=90, n_items=1200, bought_before=True)
    assert text == [
        "ranks it #3 of 1,200 items for them",
        "bought it before (not recently)",
        "42% chance of an order in the next 90 days",
    ]


def test_affinity_parts_equal_the_best_scaled_column_exactly() -> None:
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(40, 12))
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    scores[3] = np.nan  # a customer nobody can score
    scores[4] = 2.5  # every item equal: affinity 0
    targets = np.zeros(12, bool)
    targets[[1, 5, 7]] = True
    aff, rank = affinity(scores, targets)
    scaled = scaled_scores(scores)[:, targets]
    expected = np.where(np.isnan(scaled), -np.inf, scaled).max(axis=1)
    expected = np.where(np.isfinite(expected), expected, np.nan)
    np.testing.assert_array_equal(aff, expected)  # bit for bit, not approximately
    assert np.isnan(aff[3]) and aff[4] == 0.0
    lo, hi = score_ranges(scores)
    assert np.isnan(lo[3]) and lo[4] == hi[4] == 2.5
    best = best_target_score(scores[:, targets])
    np.testing.assert_array_equal(scaled_affinity(best, lo, hi), aff)
    np.testing.assert_array_equal(target_rank(scores, best), rank)
