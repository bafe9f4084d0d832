"""Binned quantile intervals: the shared estimator rules and a hand-worked band."""

from __future__ import annotations

import numpy as np

from kizuna.models.intervals import BinnedQuantileInterval, coverage
from tests.models.estimator_contract import EstimatorContract


class TestBinnedQuantileIntervalContract(EstimatorContract):
    def make_estimator(self) -> BinnedQuantileInterval:
        return BinnedQuantileInterval(0.1, 0.9, n_bins=4)

    def make_data(self) -> dict:
        rng = np.random.default_rng(0)
        predicted = rng.gamma(2.0, 50.0, 200)
        return {"predicted": predicted, "actual": predicted * rng.lognormal(0.0, 0.3, 200)}

    def fit(self, est: BinnedQuantileInterval, data: dict) -> BinnedQuantileInterval:
        return est.fit(data["predicted"], data["actual"])

    def outputs(self, est: BinnedQuantileInterval, data: dict) -> list[np.ndarray]:
        return list(est.predict(data["predicted"]))

    def bad_settings(self) -> dict:
        return {"lower": -0.1, "upper": 1.5, "n_bins": 0}

    def bad_data(self, data: dict) -> list[tuple[dict, str]]:
        nan_pred, nan_actual = data["predicted"].copy(), data["actual"].copy()
        nan_pred[0] = nan_actual[1] = np.nan
        return [
            ({**data, "predicted": data["predicted"][:-1]}, "predicted"),
            ({**data, "predicted": nan_pred}, "predicted"),
            ({**data, "actual": nan_actual}, "actual"),
        ]


def test_band_of_two_bins_by_hand() -> None:
    # Predictions 1..4 (bin below the median edge 2.5) and 5..8 (above); actual = 10 x.
    predicted = np.arange(1.0, 9.0)
    band = BinnedQuantileInterval(0.0, 1.0, n_bins=2).fit(predicted, 10 * predicted)
    np.testing.assert_array_equal(band.edges_, [4.5])
    low, high = band.predict(np.array([0.0, 4.5, 100.0]))
    np.testing.assert_array_equal(low, [10.0, 50.0, 50.0])
    np.testing.assert_array_equal(high, [40.0, 80.0, 80.0])
    assert coverage(low, high, np.array([10.0, 81.0, 60.0])) == 2 / 3
