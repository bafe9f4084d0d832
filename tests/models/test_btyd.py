"""BTYD estimators: the scikit-learn contract, determinism, frames, and refused input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from kizuna.features.errors import KizunaInputError
from kizuna.models.btyd import BetaGeoModel, GammaGammaModel, customer_lifetime_value
from kizuna.models.btyd_base import aggregate_rows
from tests.models.btyd_contract import BTYDContract
from tests.models.btyd_data import FHL_PARAMS, fitted

# -- estimator contract -------------------------------------------------------------------


class TestBetaGeoContract(BTYDContract):
    fit_columns = ("frequency", "recency", "T")

    def make_estimator(self) -> BetaGeoModel:
        return BetaGeoModel()

    def outputs(self, est: BetaGeoModel, data: dict) -> list[np.ndarray]:
        arrays = self.fit_arrays(data)
        return [
            est.probability_alive(*arrays),
            est.conditional_expected_purchases(4.0, *arrays),
            est.expected_purchases(np.array([1.0, 10.0])),
        ]


class TestGammaGammaContract(BTYDContract):
    fit_columns = ("frequency", "monetary_value")

    def make_data(self) -> dict:
        data = super().make_data()
        repeat = data["frequency"] > 0  # the model is fitted on repeat customers only
        return {k: np.asarray(v)[repeat] for k, v in data.items()}

    def make_estimator(self) -> GammaGammaModel:
        return GammaGammaModel()

    def outputs(self, est: GammaGammaModel, data: dict) -> list[np.ndarray]:
        return [est.conditional_expected_average_profit(*self.fit_arrays(data))]


def test_btyd_models_are_unfitted_until_fit() -> None:
    for model in (BetaGeoModel(), GammaGammaModel()):
        with pytest.raises(NotFittedError):
            model.check_is_fitted()
    configured = clone(BetaGeoModel(penalizer_coef=0.5, max_iter=50))
    assert configured.get_params() == {"penalizer_coef": 0.5, "tol": 1e-10, "max_iter": 50}


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
