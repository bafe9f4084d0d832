"""BG/NBD and Gamma-Gamma on simulated customers: parameters recovered, predictions calibrated, exact gradients."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import check_grad

from kizuna.models import bgnbd, gamma_gamma
from kizuna.models.btyd import BetaGeoModel, GammaGammaModel
from kizuna.models.btyd_base import aggregate_rows
from tests.models.btyd_data import TRUE_BGNBD, fitted, numerical_hessian, simulate_bgnbd


def test_bgnbd_recovers_simulated_parameters(simulated):
    x, t_x, T = simulated["frequency"], simulated["recency"], simulated["T"]
    model = BetaGeoModel().fit(x, t_x, T)
    (ux, utx, uT), w = aggregate_rows(x, t_x, T)
    true_log = np.log([TRUE_BGNBD[k] for k in bgnbd.PARAM_NAMES])
    nll_true, _ = bgnbd._negative_log_likelihood(true_log, ux, utx, uT, w, 0.0)
    ll_true = -nll_true * len(x)
    # MLE beats the truth, and by no more than a likelihood-ratio test allows
    assert model.log_likelihood_ >= ll_true
    assert 2 * (model.log_likelihood_ - ll_true) < stats.chi2.ppf(0.999, df=4)
    # and each parameter is within 4 standard errors (observed information)
    fit_log = np.log([model.params_[k] for k in bgnbd.PARAM_NAMES])
    hessian = numerical_hessian(
        lambda z: bgnbd._negative_log_likelihood(z, ux, utx, uT, w, 0.0)[1], fit_log
    )
    se = np.sqrt(np.diag(np.linalg.inv(hessian * len(x))))
    assert np.all(np.abs(fit_log - true_log) < 4 * se), (fit_log - true_log) / se


def test_expected_purchases_match_simulated_mean():
    rng = np.random.default_rng(7)
    horizon = 30.0
    sim = simulate_bgnbd(TRUE_BGNBD, np.full(40_000, horizon), horizon=0.0, rng=rng)
    expected = fitted(BetaGeoModel, **TRUE_BGNBD).expected_purchases(horizon)
    sem = sim["frequency"].std() / np.sqrt(len(sim["frequency"]))
    assert abs(sim["frequency"].mean() - expected) < 4 * sem


def test_conditional_predictions_are_calibrated_on_simulated_futures(simulated):
    model = fitted(BetaGeoModel, **TRUE_BGNBD)
    x, t_x, T = simulated["frequency"], simulated["recency"], simulated["T"]
    # E[future | history] and P(alive | history) are conditional means, so the
    # residuals average to zero over customers (within sampling error).
    residual = simulated["future"] - model.conditional_expected_purchases(20.0, x, t_x, T)
    assert abs(residual.mean()) < 4 * residual.std() / np.sqrt(len(x))
    alive_residual = simulated["alive"] - model.probability_alive(x, t_x, T)
    assert abs(alive_residual.mean()) < 4 * alive_residual.std() / np.sqrt(len(x))


def test_gamma_gamma_recovers_simulated_parameters():
    rng = np.random.default_rng(11)
    p, q, v = 6.0, 4.0, 15.0
    n = 20_000
    x = 1.0 + rng.poisson(3.0, n)
    nu = rng.gamma(q, 1.0 / v, n)
    # the mean of x Gamma(p, nu) values is Gamma(p x, x nu)
    m = rng.gamma(p * x, 1.0 / (x * nu))
    model = GammaGammaModel().fit(x, m)
    (ux, um), w = aggregate_rows(x, m)
    true_log = np.log([p, q, v])
    nll_true, _ = gamma_gamma._negative_log_likelihood(true_log, ux, um, w, 0.0)
    assert model.log_likelihood_ >= -nll_true * n
    assert 2 * (model.log_likelihood_ + nll_true * n) < stats.chi2.ppf(0.999, df=3)
    fit_log = np.log([model.params_[k] for k in gamma_gamma.PARAM_NAMES])
    hessian = numerical_hessian(
        lambda z: gamma_gamma._negative_log_likelihood(z, ux, um, w, 0.0)[1], fit_log
    )
    se = np.sqrt(np.diag(np.linalg.inv(hessian * n)))
    assert np.all(np.abs(fit_log - true_log) < 4 * se), (fit_log - true_log) / se


# -- gradients -----------------------------------------------------------------------------


@pytest.mark.parametrize("penalizer", [0.0, 0.1])
def test_bgnbd_gradient_matches_finite_differences(penalizer):
    rng = np.random.default_rng(3)
    sim = simulate_bgnbd(TRUE_BGNBD, rng.uniform(5, 40, 300), 0.0, rng)
    (x, t_x, T), w = aggregate_rows(sim["frequency"], sim["recency"], sim["T"])
    for point in ([0.0, 0.0, 0.0, 0.0], np.log([0.3, 7.0, 0.6, 2.1]), [-1.0, 2.0, 0.5, -0.3]):
        point = np.asarray(point, dtype=float)
        args = (x, t_x, T, w, penalizer)
        error = check_grad(
            lambda z, args=args: bgnbd._negative_log_likelihood(z, *args)[0],
            lambda z, args=args: bgnbd._negative_log_likelihood(z, *args)[1],
            point,
        )
        scale = np.linalg.norm(bgnbd._negative_log_likelihood(point, *args)[1]) + 1.0
        assert error / scale < 1e-5


@pytest.mark.parametrize("penalizer", [0.0, 0.1])
def test_gamma_gamma_gradient_matches_finite_differences(penalizer):
    rng = np.random.default_rng(4)
    x = 1.0 + rng.poisson(2.0, 200)
    m = rng.gamma(3.0, 10.0, 200)
    args = (x, m, np.ones(200), penalizer)
    for point in ([0.0, 0.0, 0.0], np.log([6.0, 3.7, 15.0]), [1.5, -0.5, 3.0]):
        point = np.asarray(point, dtype=float)
        error = check_grad(
            lambda z: gamma_gamma._negative_log_likelihood(z, *args)[0],
            lambda z: gamma_gamma._negative_log_likelihood(z, *args)[1],
            point,
        )
        scale = np.linalg.norm(gamma_gamma._negative_log_likelihood(point, *args)[1]) + 1.0
        assert error / scale < 1e-5
