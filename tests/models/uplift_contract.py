"""The shared contract of the uplift meta-learners (:class:`~models.uplift_base.UpliftLearner`).

A new learner costs a few lines::

    class TestMyLearner(UpliftContract):
        def make_estimator(self):
            return MyLearner(**FAST_UPLIFT)

On top of :class:`~tests.models.estimator_contract.EstimatorContract`: the LightGBM
settings are validated at fit (not left to LightGBM's own errors), the group, the outcome
and the row counts are refused by name, the outputs have the documented shapes, and a
known constant effect is found exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tests.models.estimator_contract import EstimatorContract

#: Small, fast settings that still split on 100-row groups.
FAST_UPLIFT = {"n_estimators": 10, "min_child_samples": 5, "random_state": 0}

EFFECT = 5.0


def make_uplift_data(n: int = 200, *, seed: int = 0) -> dict[str, Any]:
    """Alternating treatment and a revenue outcome with a known constant effect.

    ``y = 2 * x0 + EFFECT * treated``: no noise, so each group's model learns its
    line and the uplift is ``EFFECT`` wherever both groups were seen.
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x0": rng.random(n), "x1": rng.normal(size=n)})
    treated = np.arange(n) % 2
    y = 2.0 * X["x0"].to_numpy() + EFFECT * treated
    return {"X": X, "treatment": treated, "y": y}


class UpliftContract(EstimatorContract):
    """Subclass and define ``make_estimator`` (use :data:`FAST_UPLIFT`)."""

    def make_data(self) -> dict[str, Any]:
        return make_uplift_data()

    def fit(self, est: Any, data: dict[str, Any]) -> Any:
        return est.fit(data["X"], data["treatment"], data["y"])

    def outputs(self, est: Any, data: dict[str, Any]) -> list[np.ndarray]:
        return [est.predict_uplift(data["X"]), est.predict_outcomes(data["X"])]

    def bad_settings(self) -> dict[str, Any]:
        return {
            "outcome": "revenue",
            "n_estimators": 0,
            "learning_rate": -0.1,
            "num_leaves": 1,
            "min_child_samples": -3,
            "reg_lambda": -1.0,
            "colsample_bytree": 1.5,
            "random_state": None,
        }

    def bad_data(self, data: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        n = len(data["X"])
        three_groups = np.arange(n) % 3
        few_treated = (np.arange(n) < 5).astype(int)
        missing = data["y"].copy()
        missing[3] = np.nan
        return [
            ({**data, "treatment": three_groups}, "treatment"),
            ({**data, "treatment": few_treated}, "treatment"),
            ({**data, "treatment": data["treatment"][:-1]}, "treatment"),
            ({**data, "y": data["y"][:-1]}, "outcome"),
            ({**data, "y": missing}, "outcome"),
        ]

    def test_output_shapes(self, fitted: Any, data: dict[str, Any]) -> None:
        X = data["X"].head(7)
        assert fitted.predict_uplift(X).shape == (7,)
        assert fitted.predict_outcomes(X).shape == (7, 2)
        assert fitted.outcome_ == "continuous" and fitted.treated_share_ == 0.5
        assert list(fitted.feature_names_in_) == ["x0", "x1"] and fitted.n_features_in_ == 2

    def test_finds_a_known_constant_effect(self, fitted: Any, data: dict[str, Any]) -> None:
        """``y = 2 x0 + 5 treated`` without noise: every customer's uplift is 5."""
        np.testing.assert_allclose(fitted.predict_uplift(data["X"]), EFFECT, atol=0.3)
        outcomes = fitted.predict_outcomes(data["X"])
        np.testing.assert_allclose(outcomes[:, 1] - outcomes[:, 0], EFFECT, atol=0.3)
