"""The blend-weight grid's top-k: the hinted threshold path equals a full partition."""

from __future__ import annotations

import numpy as np

from kizuna.training.blend_tuning import top_k_columns


def test_top_k_columns_by_hand():
    blend = np.array([[0.1, 0.9, 0.5, 0.7], [0.3, 0.2, -np.inf, 0.8]])
    want = np.array([[1, 3], [3, 0]])
    np.testing.assert_array_equal(top_k_columns(blend, 2), want)
    # Any hint gives the same answer; a poor one only costs more sorting.
    for hint in (np.array([[0, 2], [1, 2]]), np.array([[1, 3], [3, 0]])):
        np.testing.assert_array_equal(top_k_columns(blend, 2, hint=hint), want)


def test_hinted_top_k_equals_the_partition_on_random_blends():
    rng = np.random.default_rng(0)
    blend = rng.random((300, 80))
    blend[rng.random(blend.shape) < 0.9] = -np.inf  # many rows with fewer than k valid cells
    blend[:5] = -np.inf
    full = top_k_columns(blend, 10)
    hint = rng.permuted(np.tile(np.arange(80), (300, 1)), axis=1)[:, :10]
    hinted = top_k_columns(blend, 10, hint=hint)
    values = np.take_along_axis(blend, full, axis=1)
    np.testing.assert_array_equal(np.take_along_axis(blend, hinted, axis=1), values)
    finite = np.isfinite(values)  # padding (-inf) cells may come in any order
    np.testing.assert_array_equal(hinted[finite], full[finite])
    assert (~finite).any() and finite.any()
