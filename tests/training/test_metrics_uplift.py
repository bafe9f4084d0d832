"""Qini and uplift curves on tiny arrays worked out by hand, plus their limits."""

from __future__ import annotations

import numpy as np
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.training.metrics_uplift import (
    auuc,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)

# Sorted by score: treated buyer, treated non-buyer, control buyer, control non-buyer.
Y = np.array([1, 0, 1, 0])
T = np.array([1, 1, 0, 0])
S = np.array([4.0, 3.0, 2.0, 1.0])


def test_qini_curve_by_hand() -> None:
    # k=1: Y_T=1, N_C=0 -> 1; k=2: still 1; k=3: 1 - 1*2/1 = -1; k=4: 1 - 1*2/2 = 0.
    k, q = qini_curve(Y, T, S)
    np.testing.assert_array_equal(k, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(q, [0, 1, 1, -1, 0])


def test_qini_coefficient_by_hand() -> None:
    # Area of q/n over x = k/n: 0.25*(0+.25)/2 + 0.25*(.25+.25)/2 + 0 + 0.25*(-.25)/2 = 0.0625;
    # the random line ends at 0.
    assert qini_coefficient(Y, T, S, normalize=False) == pytest.approx(0.0625)
    # Perfect order (score y for treated, -y for control): treated buyer, {two non-buyers},
    # control buyer: q at k = 0, 1, 3, 4 is 0, 1, 1, 0 -> area 0.1875. 0.0625 / 0.1875 = 1/3.
    assert qini_coefficient(Y, T, S) == pytest.approx(1 / 3)


def test_uplift_curve_and_auuc_by_hand() -> None:
    # Zero while a group is empty; k=3: (1/2 - 1/1) * 3 = -1.5; k=4: (1/2 - 1/2) * 4 = 0.
    k, u = uplift_curve(Y, T, S)
    np.testing.assert_allclose(u, [0, 0, 0, -1.5, 0])
    # Area of u/n: 0.25 * (0 - .375) / 2 + 0.25 * (-.375 + 0) / 2 = -0.09375.
    assert auuc(Y, T, S) == pytest.approx(-0.09375)


def test_tied_scores_form_one_block_whatever_the_input_order() -> None:
    y, t, s = np.array([1, 0, 0, 1]), np.array([1, 0, 1, 0]), np.array([1.0, 1.0, 0.0, 0.0])
    # Block {0, 1}: Y_T=1, N_T=1, Y_C=0, N_C=1 -> 1; all: 1 - 1 * 2/2 = 0.
    k, q = qini_curve(y, t, s)
    np.testing.assert_array_equal(k, [0, 2, 4])
    np.testing.assert_allclose(q, [0, 1, 0])
    swap = np.array([1, 0, 3, 2])
    k2, q2 = qini_curve(y[swap], t[swap], s[swap])
    np.testing.assert_allclose(q2, q)
    assert qini_coefficient(y[swap], t[swap], s[swap]) == qini_coefficient(y, t, s)


def test_perfect_random_and_reversed_orderings() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    t = rng.random(n) < 0.5
    tau = rng.uniform(-0.2, 0.4, n)
    y = (rng.random(n) < 0.3 + t * tau).astype(int)
    perfect = np.where(t, y, -y)
    assert qini_coefficient(y, t, perfect) == pytest.approx(1.0)
    assert auuc(y, t, perfect, normalize=True) == pytest.approx(1.0)
    random = qini_coefficient(y, t, rng.random(n))
    assert abs(random) < 0.05
    true = qini_coefficient(y, t, tau)
    assert 0.05 < true < 1
    assert qini_coefficient(y, t, -tau) < -0.05
    assert auuc(y, t, tau) > auuc(y, t, -tau)


def test_uplift_at_k_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1, 0])
    t = np.array([1, 0, 1, 0, 1, 0])
    s = np.arange(6, 0, -1.0)
    # Top ceil(0.4 * 6) = 3: treated rows 0, 2 (mean 0.5), control row 1 (mean 1).
    assert uplift_at_k(y, t, s, 0.4) == pytest.approx(-0.5)
    # Everyone: 2/3 - 1/3.
    assert uplift_at_k(y, t, s, 1.0) == pytest.approx(1 / 3)
    assert np.isnan(uplift_at_k(y, t, s, 1 / 6))  # the top customer is treated only


def test_bad_inputs_fail_loudly() -> None:
    with pytest.raises(KizunaInputError, match="same length"):
        qini_curve(Y, T, S[:3])
    with pytest.raises(KizunaInputError, match="treatment"):
        qini_curve(Y, np.array([1, 2, 0, 0]), S)
    with pytest.raises(KizunaInputError, match="both treated and control"):
        auuc(Y, np.ones(4), S)
    with pytest.raises(KizunaInputError, match="finite"):
        qini_coefficient(Y, T, np.array([1.0, np.nan, 0.0, 2.0]))
    with pytest.raises(KizunaInputError, match="share"):
        uplift_at_k(Y, T, S, 0)
