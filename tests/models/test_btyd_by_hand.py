"""BG/NBD, Gamma-Gamma and CLV: values worked out by hand or from the papers' equations."""

from __future__ import annotations

import numpy as np
from scipy.special import hyp2f1

from kizuna.models.btyd import BetaGeoModel, GammaGammaModel, customer_lifetime_value
from tests.models.btyd_data import FHL_PARAMS, fitted

# -- hand-checkable values -----------------------------------------------------------------


def test_probability_alive_by_hand():
    model = fitted(BetaGeoModel, r=1.0, alpha=1.0, a=1.0, b=2.0)
    # x=1, t_x=1, T=3: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)) = 1 / (1 + 1/2 * 4)
    got = model.probability_alive([1, 0, 0], [1.0, 0.0, 0.0], [3.0, 3.0, 100.0])
    np.testing.assert_allclose(got, [1.0 / 3.0, 1.0, 1.0])


def test_probability_alive_monotone():
    model = fitted(BetaGeoModel, **FHL_PARAMS)
    T = np.linspace(10.0, 60.0, 11)
    later_end = model.probability_alive(np.full(11, 3), np.full(11, 10.0), T)
    assert np.all(np.diff(later_end) < 0)  # a longer silence: less likely alive
    recency = np.linspace(1.0, 30.0, 11)
    later_last = model.probability_alive(np.full(11, 3), recency, np.full(11, 30.0))
    assert np.all(np.diff(later_last) > 0)  # a more recent purchase: more likely alive
    assert np.all((later_end > 0) & (later_end <= 1))


def test_expected_purchases_zero_at_zero_and_increasing():
    model = fitted(BetaGeoModel, **FHL_PARAMS)
    t = np.array([0.0, 1.0, 5.0, 20.0, 80.0, 500.0])
    got = model.expected_purchases(t)
    assert got[0] == 0.0
    assert np.all(np.diff(got) > 0)
    # conditional expectation of a brand-new customer (x = t_x = T = 0) is the same thing
    conditional = model.conditional_expected_purchases(t, np.zeros(6), np.zeros(6), np.zeros(6))
    np.testing.assert_allclose(conditional, got, rtol=1e-12)


def test_conditional_expected_purchases_equals_fhl_equation_10():
    r, alpha, a, b = FHL_PARAMS.values()
    model = fitted(BetaGeoModel, **FHL_PARAMS)
    x = np.array([0.0, 1.0, 2.0, 7.0])
    t_x = np.array([0.0, 5.0, 30.0, 35.0])
    T = np.full(4, 38.0)
    t = 39.0
    # FHL eq. (10) as printed (without Euler's transformation)
    z = t / (alpha + T + t)
    numerator = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    )
    odds = np.where(
        x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0
    )
    np.testing.assert_allclose(
        model.conditional_expected_purchases(t, x, t_x, T), numerator / (1 + odds), rtol=1e-10
    )


def test_heavy_buyer_predictions_stay_finite():
    model = fitted(BetaGeoModel, **FHL_PARAMS)
    got = model.conditional_expected_purchases(52.0, [400.0], [38.0], [38.5])
    # nearly surely alive, buying at ~400/38.5 a week
    assert np.isfinite(got).all() and 400 / 38.5 * 52 * 0.5 < got[0] < 400 / 38.5 * 52 * 1.5


def test_gamma_gamma_expected_profit_by_hand():
    model = fitted(GammaGammaModel, p=2.0, q=3.0, v=4.0)
    # population mean p v / (q-1) = 4; weight on own mean p x / (p x + q - 1) = 2/4
    got = model.conditional_expected_average_profit([1, 0], [10.0, 0.0])
    np.testing.assert_allclose(got, [0.5 * 4 + 0.5 * 10, 4.0])


def test_customer_lifetime_value_by_hand():
    bg = fitted(BetaGeoModel, **FHL_PARAMS)
    x, t_x, T = np.array([0.0, 2.0, 5.0]), np.array([0.0, 20.0, 30.0]), np.full(3, 38.0)
    value = np.array([10.0, 20.0, 30.0])
    # undiscounted, the per-period increments telescope to E[Y(K L)]
    undiscounted = customer_lifetime_value(bg, x, t_x, T, value, 12, 0.0, period_length=4.0)
    np.testing.assert_allclose(
        undiscounted, value * bg.conditional_expected_purchases(48.0, x, t_x, T)
    )
    # one period: E[Y(L)] discounted once
    one = customer_lifetime_value(bg, x, t_x, T, value, 1, 0.1, period_length=4.0)
    np.testing.assert_allclose(one, value * bg.conditional_expected_purchases(4.0, x, t_x, T) / 1.1)
    discounted = customer_lifetime_value(bg, x, t_x, T, value, 12, 0.05, period_length=4.0)
    assert np.all(discounted < undiscounted)


def test_gamma_gamma_clv_uses_expected_profit():
    bg = fitted(BetaGeoModel, **FHL_PARAMS)
    gg = fitted(GammaGammaModel, p=6.25, q=3.74, v=15.44)
    x, t_x, T, m = [0, 3], [0.0, 20.0], [30.0, 30.0], [0.0, 40.0]
    via_method = gg.customer_lifetime_value(bg, x, t_x, T, m, 6, 0.01, period_length=4.345)
    direct = customer_lifetime_value(
        bg, x, t_x, T, gg.conditional_expected_average_profit(x, m), 6, 0.01, period_length=4.345
    )
    np.testing.assert_allclose(via_method, direct)


def test_expected_purchases_with_next_to_no_dropout_is_the_gamma_poisson_limit():
    # A shop where nobody drops out fits a -> 0 with huge r and alpha; the series then
    # failed (NaN, read downstream as 0 purchases). The value tends to the no-dropout
    # expectation (r + x) / (alpha + T) * t, here 360,854 / 6,700,090 * 13 = 0.70016.
    from kizuna.models.bgnbd import conditional_expectation

    params = np.array([360851.0, 6.7e6, 0.00015, 3803.0])
    x, t_x, big_t = (
        np.array([3.0, 5.0, 8.0]),
        np.array([60.0, 80.0, 90.0]),
        np.array([90.0, 95.0, 100.0]),
    )
    got = conditional_expectation(params, 13.0, x, t_x, big_t)
    np.testing.assert_allclose(got, (params[0] + x) / (params[1] + big_t) * 13.0, rtol=1e-4)
