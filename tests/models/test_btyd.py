"""BG/NBD, Gamma-Gamma and CLV: published CDNOW results, simulated ground truth, hand values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import check_grad
from scipy.special import hyp2f1
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from kizuna.features.errors import KizunaInputError
from kizuna.features.rfm import rfm_summary
from kizuna.models import bgnbd, gamma_gamma
from kizuna.models.btyd import BetaGeoModel, BTYDModel, GammaGammaModel, customer_lifetime_value
from kizuna.models.btyd_base import aggregate_rows
from tests.conftest import CDNOW_MASTER, CDNOW_SAMPLE, require_dataset

FHL_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def fitted(model_class: type, **params: float):
    """A model with given parameters, as if fitted."""
    model = model_class()
    model.params_ = dict(params)
    return model


# -- CDNOW helpers ------------------------------------------------------------------


def read_cdnow(path: Path) -> pd.DataFrame:
    """A CDNOW file through kizuna's adapter -> customer_id, date (datetime64), dollar_value."""
    from kizuna.features.validate import validate_transactions
    from kizuna.training.data import read_transactions

    raw = read_transactions(path, format="cdnow")
    kept = validate_transactions(raw.frame, **raw.validate_kwargs).kept
    return kept.rename(columns={"timestamp": "date", "revenue": "dollar_value"})[
        ["customer_id", "date", "dollar_value"]
    ]


def cdnow_summary(path: Path, as_of: str, time_unit: str, time_scaler: float) -> pd.DataFrame:
    return rfm_summary(
        read_cdnow(require_dataset(path)),
        as_of,
        time_unit=time_unit,
        time_scaler=time_scaler,
        customer_col="customer_id",
        timestamp_col="date",
        monetary_col="dollar_value",
        return_col=None,
    )


@pytest.fixture(scope="module")
def sample_rfm() -> pd.DataFrame:
    # FHL's convention: days / 7 (fractional weeks), same-day purchases merged,
    # calibration through 1997-09-30 (as_of is exclusive), T to that day.
    return cdnow_summary(CDNOW_SAMPLE, "1997-10-01", time_unit="D", time_scaler=7.0)


@pytest.fixture(scope="module")
def master_rfm_weekly() -> pd.DataFrame:
    # The lifetimes reference used freq="W" (whole Monday-Sunday weeks) with
    # observation_period_end=1997-09-30, which keeps every purchase of that
    # week, i.e. through Sunday 1997-10-05: as_of=1997-10-06 here.
    return cdnow_summary(CDNOW_MASTER, "1997-10-06", time_unit="W", time_scaler=1.0)


# -- CDNOW published results ----------------------------------------------------------


@pytest.mark.dataset
def test_bgnbd_reproduces_fader_hardie_lee_on_cdnow_sample(sample_rfm):
    assert len(sample_rfm) == 2357
    model = BetaGeoModel().fit_frame(sample_rfm)
    for name, expected in FHL_PARAMS.items():
        assert model.params_[name] == pytest.approx(expected, abs=0.002), name
    assert model.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    assert model.converged_


@pytest.mark.dataset
def test_expected_purchases_match_reference_on_cdnow_sample(sample_rfm):
    model = BetaGeoModel().fit_frame(sample_rfm)
    got = model.expected_purchases([1.0, 3.0, 32.0, 78.0])
    np.testing.assert_allclose(got[:3], [0.0532, 0.1506, 1.0437], atol=5e-5)
    # The reference 1.8576 is 3.4e-4 below the exact 2F1 value (1.85795, also
    # what lifetimes gives); a 2F1 series cut at ~150 terms gives 1.8576.
    assert got[3] == pytest.approx(1.8576, abs=5e-4)


@pytest.mark.dataset
def test_gamma_gamma_reproduces_fader_hardie_on_cdnow_sample(sample_rfm):
    # monetary_value = mean dollar value of the repeat purchase days (same-day
    # purchases summed, first purchase day excluded), calibration period only.
    repeat = sample_rfm[sample_rfm["repeat_periods"] > 0]
    assert len(repeat) == 946
    model = GammaGammaModel().fit_frame(sample_rfm)
    assert model.params_["p"] == pytest.approx(6.25, abs=0.005)
    assert model.params_["q"] == pytest.approx(3.74, abs=0.005)
    assert model.params_["v"] == pytest.approx(15.44, abs=0.005)


@pytest.mark.dataset
def test_bgnbd_matches_lifetimes_on_cdnow_master(master_rfm_weekly):
    assert len(master_rfm_weekly) == 23570
    model = BetaGeoModel().fit_frame(master_rfm_weekly)
    expected = {"r": 0.2906, "alpha": 6.943, "a": 0.606, "b": 2.134}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, abs=5e-4), name


# -- simulated ground truth -------------------------------------------------------------


def simulate_bgnbd(params: dict, T: np.ndarray, horizon: float, rng: np.random.Generator) -> dict:
    """Simulate BG/NBD customers observed over (0, T] and followed for ``horizon`` more.

    Returns frequency, recency, T, future purchases in (T, T + horizon] and
    whether each customer is alive at T, each shape (n,).
    """
    n = len(T)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    # Dropout comes right after the N-th repeat purchase, N ~ Geometric(p).
    n_before_dropout = rng.geometric(p)
    end = T + horizon
    arrivals = rng.poisson(lam * end)  # Poisson arrivals in (0, end] if never dropping out
    in_calibration = rng.binomial(arrivals, T / end)
    frequency = np.minimum(in_calibration, n_before_dropout)
    # x-th of in_calibration uniform arrival times on (0, T]
    recency = np.where(
        frequency > 0, T * rng.beta(np.maximum(frequency, 1), in_calibration - frequency + 1), 0.0
    )
    future = np.minimum(arrivals, n_before_dropout) - frequency
    alive = in_calibration < n_before_dropout
    return {
        "frequency": frequency.astype(float),
        "recency": recency,
        "T": T,
        "future": future,
        "alive": alive,
    }


TRUE_BGNBD = {"r": 0.6, "alpha": 5.0, "a": 0.7, "b": 2.5}


@pytest.fixture(scope="module")
def simulated() -> dict:
    rng = np.random.default_rng(20050101)
    T = rng.uniform(10.0, 50.0, 20_000)
    return simulate_bgnbd(TRUE_BGNBD, T, horizon=20.0, rng=rng)


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
    hessian = _numerical_hessian(
        lambda z: bgnbd._negative_log_likelihood(z, ux, utx, uT, w, 0.0)[1], fit_log
    )
    se = np.sqrt(np.diag(np.linalg.inv(hessian * len(x))))
    assert np.all(np.abs(fit_log - true_log) < 4 * se), (fit_log - true_log) / se


def _numerical_hessian(gradient, point: np.ndarray, step: float = 1e-5) -> np.ndarray:
    columns = [
        (gradient(point + step * e) - gradient(point - step * e)) / (2 * step)
        for e in np.eye(len(point))
    ]
    hessian = np.column_stack(columns)
    return (hessian + hessian.T) / 2


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
    hessian = _numerical_hessian(
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


# -- estimator contract -------------------------------------------------------------------


def test_estimators_share_the_btyd_contract(simulated):
    for model in (BetaGeoModel(), GammaGammaModel()):
        assert isinstance(model, BTYDModel)
        with pytest.raises(NotFittedError):
            model.check_is_fitted()
    model = BetaGeoModel(penalizer_coef=0.0)
    assert model.fit(simulated["frequency"], simulated["recency"], simulated["T"]) is model
    assert set(model.params_) == {"r", "alpha", "a", "b"} and model.n_iter_ > 0
    with pytest.raises(NotFittedError):
        BetaGeoModel().probability_alive([1], [1.0], [2.0])
    configured = clone(BetaGeoModel(penalizer_coef=0.5, max_iter=50))
    assert configured.get_params() == {"penalizer_coef": 0.5, "tol": 1e-10, "max_iter": 50}
    assert not hasattr(configured, "params_")


def test_fit_is_deterministic_and_order_free(simulated):
    x, t_x, T = simulated["frequency"], simulated["recency"], simulated["T"]
    order = np.random.default_rng(0).permutation(len(x))
    first = BetaGeoModel().fit(x, t_x, T).params_
    shuffled = BetaGeoModel().fit(x[order], t_x[order], T[order]).params_
    assert first == BetaGeoModel().fit(x, t_x, T).params_
    for name in first:
        assert shuffled[name] == pytest.approx(first[name], rel=1e-6)


def test_aggregate_rows_counts_patterns():
    (x, t_x), counts = aggregate_rows(
        np.array([1.0, 0.0, 1.0, 1.0]), np.array([2.0, 0.0, 2.0, 3.0])
    )
    patterns = sorted(zip(x.tolist(), t_x.tolist(), counts.tolist()))
    assert patterns == [(0.0, 0.0, 1.0), (1.0, 2.0, 2.0), (1.0, 3.0, 1.0)]


def test_fit_frame_equals_fit(simulated):
    frame = pd.DataFrame(
        {
            "repeat_periods": simulated["frequency"],
            "recency": simulated["recency"],
            "T": simulated["T"],
        }
    )
    assert (
        BetaGeoModel().fit_frame(frame).params_
        == BetaGeoModel().fit(frame["repeat_periods"], frame["recency"], frame["T"]).params_
    )
    renamed = frame.rename(columns={"T": "age"})
    assert (
        BetaGeoModel().fit_frame(renamed, T_col="age").params_
        == BetaGeoModel().fit_frame(frame).params_
    )
    with pytest.raises(KizunaInputError, match="'T'"):
        BetaGeoModel().fit_frame(renamed)


def test_gamma_gamma_fit_frame_uses_repeat_customers_only():
    rng = np.random.default_rng(5)
    x = rng.poisson(1.5, 500).astype(float)
    m = np.where(x > 0, rng.gamma(4.0, 5.0, 500), 0.0)
    frame = pd.DataFrame({"repeat_periods": x, "monetary_value": m})
    repeat = frame[frame["repeat_periods"] > 0]
    from_frame = GammaGammaModel().fit_frame(frame)
    assert from_frame.converged_
    assert (
        from_frame.params_
        == GammaGammaModel().fit(repeat["repeat_periods"], repeat["monetary_value"]).params_
    )
    with pytest.raises(KizunaInputError, match="repeat customers") as info:
        GammaGammaModel().fit(frame["repeat_periods"], frame["monetary_value"])
    assert info.value.column == "frequency"


def test_penalizer_shrinks_parameters(simulated):
    x, t_x, T = simulated["frequency"], simulated["recency"], simulated["T"]
    plain = BetaGeoModel().fit(x, t_x, T)
    shrunk = BetaGeoModel(penalizer_coef=0.1).fit(x, t_x, T)
    assert sum(v**2 for v in shrunk.params_.values()) < sum(v**2 for v in plain.params_.values())
    assert shrunk.log_likelihood_ < plain.log_likelihood_


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "column"),
    [
        ([1, -1], [1.0, 0.0], [2.0, 2.0], "frequency"),
        ([1, 1.5], [1.0, 1.0], [2.0, 2.0], "frequency"),
        ([1, 1], [1.0, -0.5], [2.0, 2.0], "recency"),
        ([1, 1], [1.0, 3.0], [2.0, 2.0], "recency"),  # recency > T
        ([1, 0], [1.0, 0.5], [2.0, 2.0], "recency"),  # frequency 0 with recency > 0
        ([1, 1], [1.0, 1.0], [2.0, -2.0], "T"),
        ([1, 1], [1.0, np.nan], [2.0, 2.0], "recency"),
        ([1, 1], [1.0, 1.0], [2.0, np.inf], "T"),
        ([1, 1, 1], [1.0, 1.0], [2.0, 2.0], "frequency"),  # mismatched lengths
        (["a", "b"], [1.0, 1.0], [2.0, 2.0], "frequency"),
        ([], [], [], "frequency"),
    ],
)
def test_bgnbd_rejects_bad_input(frequency, recency, T, column):
    with pytest.raises(KizunaInputError) as info:
        BetaGeoModel().fit(frequency, recency, T)
    assert info.value.column == column
    model = fitted(BetaGeoModel, **FHL_PARAMS)
    with pytest.raises(KizunaInputError):
        model.probability_alive(frequency, recency, T)


@pytest.mark.parametrize(
    ("frequency", "monetary_value", "column"),
    [
        ([1, 2], [10.0, -1.0], "monetary_value"),
        ([1, 2], [10.0, 0.0], "monetary_value"),
        ([1, 2], [10.0, np.nan], "monetary_value"),
        ([1, 2], [10.0], "frequency"),
        ([1, -2], [10.0, 3.0], "frequency"),
    ],
)
def test_gamma_gamma_rejects_bad_input(frequency, monetary_value, column):
    with pytest.raises(KizunaInputError) as info:
        GammaGammaModel().fit(frequency, monetary_value)
    assert info.value.column == column


def test_prediction_arguments_are_validated():
    bg = fitted(BetaGeoModel, **FHL_PARAMS)
    with pytest.raises(KizunaInputError) as info:
        bg.expected_purchases(-1.0)
    assert info.value.column == "t"
    for bad in ({"horizon_periods": 0}, {"discount_rate": -0.1}, {"period_length": 0.0}):
        kwargs = {"horizon_periods": 3, "discount_rate": 0.01, "period_length": 1.0} | bad
        periods, rate = kwargs.pop("horizon_periods"), kwargs.pop("discount_rate")
        with pytest.raises(KizunaInputError) as info:
            customer_lifetime_value(bg, [1], [1.0], [2.0], [10.0], periods, rate, **kwargs)
        assert info.value.column == next(iter(bad))
    with pytest.raises(KizunaInputError) as info:
        BetaGeoModel(penalizer_coef=-1.0).fit([1, 0], [1.0, 0.0], [2.0, 2.0])
    assert info.value.column == "penalizer_coef"
