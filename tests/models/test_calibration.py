"""Calibration keeps the ranking exactly and is chosen by cross-validated log loss."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from kizuna.features.errors import KizunaInputError
from kizuna.models.calibration import ScoreCalibrator, fit_calibrator
from tests.models.estimator_contract import EstimatorContract


def _scores(n: int, *, seed: int, shift: float = 0.0, slope: float = 1.0):
    """Raw scores with ties (rounded) and labels drawn from expit(slope * score + shift)."""
    rng = np.random.default_rng(seed)
    score = np.round(rng.normal(size=n), 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-(slope * score + shift)))).astype(int)
    return score, y


@pytest.mark.parametrize("method", ["none", "sigmoid", "isotonic", "auto"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_never_changes_roc_auc_or_pr_auc(method, seed):
    fit_score, fit_y = _scores(2_000, seed=seed, shift=-1.0, slope=0.7)
    test_score, test_y = _scores(3_000, seed=seed + 10, shift=-1.0, slope=0.7)
    proba = ScoreCalibrator(method).fit(fit_score, fit_y).transform(test_score)
    assert roc_auc_score(test_y, proba) == roc_auc_score(test_y, test_score)
    assert average_precision_score(test_y, proba) == average_precision_score(test_y, test_score)
    # Strictly increasing: distinct scores stay distinct, equal scores stay equal.
    order = np.argsort(test_score, kind="stable")
    steps = np.diff(proba[order])
    same = np.diff(test_score[order]) == 0
    assert np.all(steps[~same] > 0) and np.all(steps[same] == 0)


def test_isotonic_breaks_its_ties_by_the_raw_score():
    score, y = _scores(2_000, seed=3)
    fine = np.linspace(-3, 3, 5_000)
    proba = ScoreCalibrator("isotonic").fit(score, y).transform(fine)
    assert len(np.unique(proba)) == len(fine)


def test_auto_picks_the_method_with_the_lowest_cross_validated_log_loss():
    # Scores three times too confident: a sigmoid rescales them, "none" is far off.
    score, y = _scores(3_000, seed=4, slope=1 / 3)
    calibrator = ScoreCalibrator("auto").fit(score, y)
    losses = calibrator.cv_log_loss_
    assert set(losses) == {"none", "sigmoid", "isotonic"}
    assert calibrator.method_ == min(losses, key=losses.get)
    assert losses["none"] > losses["sigmoid"]
    test_score, test_y = _scores(5_000, seed=5, slope=1 / 3)
    calibrated = calibrator.transform(test_score)
    assert log_loss(test_y, calibrated) < log_loss(test_y, 1 / (1 + np.exp(-test_score)))


def test_a_decreasing_sigmoid_fit_falls_back_to_the_raw_probability():
    score, y = _scores(1_000, seed=6, slope=-1.0)
    assert ScoreCalibrator("sigmoid").fit(score, y).method_ == "none"


def test_unknown_method_is_rejected_in_fit_and_the_calibrator_clones():
    from sklearn.base import clone

    # scikit-learn's rules: __init__ stores, fit validates; clone and get_params work
    calibrator = ScoreCalibrator("platt")
    assert clone(calibrator).get_params() == {"method": "platt"}
    with pytest.raises(KizunaInputError, match="'method'"):
        calibrator.fit(np.array([0.0, 1.0]), np.array([0, 1]))
    with pytest.raises(KizunaInputError, match="calibration"):
        fit_calibrator("platt", None, None)  # no validation rows: still a misspelt method


def test_binned_interval_covers_its_nominal_share_on_fresh_data():
    from kizuna.models.intervals import BinnedQuantileInterval, coverage

    rng = np.random.default_rng(7)

    def draw(n):
        predicted = rng.gamma(2.0, 50.0, n)
        return predicted, predicted * rng.gamma(4.0, 0.25, n)

    band = BinnedQuantileInterval(0.1, 0.9, n_bins=10).fit(*draw(20_000))
    predicted, actual = draw(20_000)
    low, high = band.predict(predicted)
    assert np.all(low <= high)
    assert abs(coverage(low, high, actual) - 0.8) < 0.02


def test_binned_interval_with_predictions_tied_at_an_edge():
    # 30 of 100 predictions tie at 0 (a shop where many are forecast nothing): the first
    # decile's edge is 0 itself, so the bin below it is empty and borrows the nearest band.
    from kizuna.models.intervals import BinnedQuantileInterval

    predicted = np.array([0.0] * 30 + list(range(1, 71)), dtype=float)
    actual = np.arange(100, dtype=float)
    band = BinnedQuantileInterval(0.1, 0.9).fit(predicted, actual)
    low, high = band.predict(np.array([-1.0, 0.0]))
    # both fall in the first bins: the zeros' band, quantiles of 0..29
    np.testing.assert_allclose([*low, *high], [2.9, 2.9, 26.1, 26.1])


class TestScoreCalibratorContract(EstimatorContract):
    """The shared estimator rules (the churn models' calibration step)."""

    def make_estimator(self) -> ScoreCalibrator:
        return ScoreCalibrator("auto")

    def make_data(self) -> dict:
        score, y = _scores(400, seed=5)
        return {"score": score, "y": y}

    def fit(self, est: ScoreCalibrator, data: dict) -> ScoreCalibrator:
        return est.fit(data["score"], data["y"])

    def outputs(self, est: ScoreCalibrator, data: dict) -> list[np.ndarray]:
        return [est.transform(data["score"])]

    def bad_settings(self) -> dict:
        return {"method": "platt"}

    def bad_data(self, data: dict) -> list[tuple[dict, str]]:
        nan, three = data["score"].copy(), data["y"].copy()
        nan[3], three[:2] = np.nan, 2
        return [
            ({**data, "score": nan}, "score"),
            ({**data, "y": three}, "'y'"),
            ({**data, "y": data["y"][:-1]}, "same length"),
        ]
