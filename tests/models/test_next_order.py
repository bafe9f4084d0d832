"""Next-order probabilities: a hand-worked case and a simulation of the BG/NBD process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.models.bgnbd import BetaGeoModel
from kizuna.models.next_order import (
    NEXT_ORDER_DAYS,
    blend_weights,
    median_wait_if_alive,
    next_order,
    probability_of_order,
    rhythm_wait_days,
)


def _model(r: float, alpha: float, a: float, b: float) -> BetaGeoModel:
    model = BetaGeoModel()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    return model


def test_one_off_buyer_by_hand() -> None:
    # x = 0: alive for sure; P(order in 2) = 1 - (2/4)^1 = 0.5; median wait (1+1)(2^1 - 1) = 2.
    model = _model(1.0, 1.0, 1.0, 1.0)
    assert probability_of_order(model, 2.0, [0], [0], [1.0])[0] == pytest.approx(0.5)
    assert median_wait_if_alive(model, [0], [1.0])[0] == pytest.approx(2.0)


def _simulate(params: dict[str, float], n: int, T: float, t: float, seed: int):
    """Customers from the BG/NBD process: (x, t_x) in (0, T] and whether they order in (T, T+t]."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    now = np.zeros(n)
    alive = np.ones(n, bool)
    x = np.zeros(n)
    t_x = np.zeros(n)
    future = np.zeros(n, bool)
    while alive.any():
        now = now + rng.exponential(1.0 / np.maximum(lam, 1e-12))
        in_cal = alive & (now <= T)
        x[in_cal] += 1
        t_x[in_cal] = now[in_cal]
        future |= alive & (now > T) & (now <= T + t)
        alive &= now <= T  # after the calibration period only the first future order matters
        alive &= rng.random(n) >= p  # dropout right after a purchase
    return x, t_x, future


def test_probability_matches_the_simulated_process() -> None:
    params = {"r": 0.8, "alpha": 4.0, "a": 0.8, "b": 2.5}
    x, t_x, future = _simulate(params, 40_000, T=30.0, t=10.0, seed=1)
    predicted = probability_of_order(_model(**params), 10.0, x, t_x, np.full(x.size, 30.0))
    assert predicted.mean() == pytest.approx(future.mean(), abs=0.01)
    # and within groups: one-off buyers, light and heavy repeat buyers
    for group in (x == 0, (x >= 1) & (x <= 3), x > 3):
        assert predicted[group].mean() == pytest.approx(future[group].mean(), abs=0.02)


def test_rhythm_and_blend() -> None:
    np.testing.assert_allclose(
        rhythm_wait_days([30.0, 30.0, np.nan], [10.0, 45.0, 3.0]), [20.0, 0.0, np.nan]
    )
    np.testing.assert_allclose(blend_weights([0, 1, 3], 3.0), [0.0, 0.25, 0.5])
    summary = pd.DataFrame(
        {
            "repeat_periods": [0.0, 3.0],
            "recency": [0.0, 3.0],
            "T": [1.0, 4.0],
            "gap_mean_days": [np.nan, 7.0],
            "recency_days": [7.0, 7.0],
            "frequency": [1, 4],  # orders
        },
        index=["one-off", "weekly"],
    )
    model = _model(1.0, 1.0, 1.0, 1.0)
    out = next_order(model, summary, pd.Timestamp("2024-01-01"), days_per_unit=7.0, prior_gaps=3.0)
    # one-off: BTYD only, median 2 weeks = 14 days; weekly: overdue (rhythm 0), weight 1/2.
    assert out.loc["one-off", NEXT_ORDER_DAYS] == pytest.approx(14.0)
    btyd = (1.0 + 4.0) * (2 ** (1 / 4) - 1) * 7
    assert out.loc["weekly", NEXT_ORDER_DAYS] == pytest.approx(0.5 * btyd)
    assert out.loc["one-off", "next_order_date"] == pd.Timestamp("2024-01-15")
    assert (out["p_order_30d"] <= out["p_order_60d"]).all()
    assert (out["p_order_60d"] <= out["p_order_90d"]).all()
