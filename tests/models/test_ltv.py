"""LTV regressor on zero-inflated gamma spend with a known expected value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.models.ltv import LTVRegressor
from kizuna.training.metrics_regression import normalised_gini, rmse, spearman, total_revenue_error
from tests.models.classifier_contract import RegressorContract, make_ltv_data

FAST = {"n_estimators": 150, "learning_rate": 0.1, "num_leaves": 7, "n_jobs": 1}


class TestLTVRegressorContract(RegressorContract):
    def make_estimator(self) -> LTVRegressor:
        return LTVRegressor(**FAST)


class TestSquaredErrorLTVContract(RegressorContract):
    def make_estimator(self) -> LTVRegressor:
        return LTVRegressor(objective="regression", **FAST)


@pytest.fixture(scope="module")
def spend() -> dict[str, tuple[pd.DataFrame, np.ndarray, np.ndarray]]:
    return {
        "train": make_ltv_data(4000, seed=20),
        "val": make_ltv_data(2000, seed=21),
        "test": make_ltv_data(4000, seed=22),
    }


@pytest.fixture(scope="module")
def tweedie(spend: dict) -> LTVRegressor:
    X, y, _ = spend["train"]
    X_val, y_val, _ = spend["val"]
    return LTVRegressor(**FAST).fit(X, y, X_val=X_val, y_val=y_val)


def test_tweedie_ranks_nearly_as_well_as_the_truth(spend: dict, tweedie: LTVRegressor) -> None:
    X_test, y_test, expected = spend["test"]
    assert (y_test == 0).mean() > 0.3  # the data really is zero-inflated
    pred = tweedie.predict(X_test)
    assert spearman(y_test, pred) > spearman(y_test, expected) - 0.03
    assert normalised_gini(y_test, pred) > 0.95 * normalised_gini(y_test, expected)
    assert abs(total_revenue_error(y_test, pred)) < 0.05


def test_tweedie_beats_a_constant(spend: dict, tweedie: LTVRegressor) -> None:
    _, y, _ = spend["train"]
    X_test, y_test, _ = spend["test"]
    constant = np.full(len(y_test), y.mean())
    assert rmse(y_test, tweedie.predict(X_test)) < 0.9 * rmse(y_test, constant)


def test_btyd_features_are_used_and_phrased() -> None:
    # Future spend driven by an "alive" probability that a BTYD model supplies as a column.
    rng = np.random.default_rng(5)
    n = 3000
    X = pd.DataFrame({"p_alive": rng.uniform(0, 1, n), "frequency": rng.poisson(2, n) * 1.0})
    alive = rng.random(n) < X["p_alive"].to_numpy()
    y = np.where(alive, rng.gamma(2.0, 25.0, n), 0.0)
    model = LTVRegressor(**FAST).fit(X, y)
    assert model.feature_importance().index[0] == "p_alive"
    value, reasons = model.predict_with_reasons(
        pd.DataFrame({"p_alive": [0.97], "frequency": [2.0]})
    )
    assert value[0] > y.mean()
    assert reasons[0][0]["phrase"] == "Purchase pattern looks active (P(alive) 97%)"


def test_negative_targets_are_clipped_for_tweedie(spend: dict) -> None:
    X, y, _ = spend["train"]
    y = y.copy()
    y[:7] = -5.0  # net returns
    model = LTVRegressor(**FAST).fit(X, y)
    assert model.n_clipped_ == 7
    clipped = LTVRegressor(**FAST).fit(X, np.maximum(y, 0.0))
    np.testing.assert_array_equal(model.predict(X.head(50)), clipped.predict(X.head(50)))
    assert LTVRegressor(objective="regression", **FAST).fit(X, y).n_clipped_ == 0


def test_squared_error_predictions_are_floored_at_zero() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=500)})
    y = np.where(X["x"] > 1.0, 100.0, 0.0)
    raw = LTVRegressor(objective="regression", **FAST).fit(X, y)
    assert raw.booster_.predict(raw.preprocessor_.transform(X)).min() < 0  # overshoots
    assert raw.predict(X).min() == 0.0


@pytest.mark.parametrize(
    ("params", "column"),
    [
        ({"objective": "gamma"}, "objective"),
        ({"tweedie_variance_power": 2.0}, "tweedie_variance_power"),
    ],
)
def test_bad_settings_name_the_setting(params: dict, column: str) -> None:
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(KizunaInputError, match=column):
        LTVRegressor(**params).fit(X, [0.0, 1.0, 2.0])


def test_boosting_from_a_prior_value_column_improves_on_the_prior():
    # The prior knows the spend scale but not the effect of `x`; the booster learns it.
    rng = np.random.default_rng(3)
    n = 4000
    x = rng.uniform(-1, 1, n)
    prior = rng.gamma(2.0, 10.0, n)
    mean = prior * np.exp(0.8 * x)
    y = np.where(rng.random(n) < 0.5, 0.0, rng.gamma(2.0, mean / 2.0 / 0.5))
    X = pd.DataFrame({"x": x, "prior": prior})
    half = n // 2
    model = LTVRegressor(
        base_value_col="prior", n_estimators=200, num_leaves=4, random_state=0, n_jobs=1
    ).fit(X[:half], y[:half], X_val=X[half:], y_val=y[half:])
    predicted = model.predict(X[half:])
    assert (predicted > 0).all()
    from scipy.stats import spearmanr

    assert (
        spearmanr(predicted, mean[half:]).statistic
        > spearmanr(prior[half:], mean[half:]).statistic + 0.05
    )


def test_a_prior_value_column_needs_a_log_link_and_must_exist():
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "prior": [1.0, 1.0, 2.0, 2.0]})
    y = np.array([0.0, 1.0, 2.0, 3.0])
    with pytest.raises(KizunaInputError, match="log-link"):
        LTVRegressor(objective="regression", base_value_col="prior").fit(X, y)
    with pytest.raises(KizunaInputError, match="missing_col"):
        LTVRegressor(base_value_col="missing_col").fit(X, y)
