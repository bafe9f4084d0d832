"""The shared contract of the servable baselines of :mod:`models.baselines`.

They stand in for the tuned churn classifier and LTV regressor in a bundle, so on top
of :class:`~tests.models.estimator_contract.EstimatorContract` they answer as those do:
``predict_with_reasons`` gives the same score as ``predict_proba`` / ``predict``, with
reasons that name input columns. (The recommender baselines - popularity, personal
popularity, cold start - follow :class:`~tests.models.recommender_contract.RecommenderContract`,
and the RFM churn baseline :class:`~tests.models.classifier_contract.ClassifierContract`.)

A new baseline costs a few lines::

    class TestMyBaseline(ClassifierBaselineContract):
        def make_estimator(self):
            return MyBaseline()
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.models.classifier_contract import make_churn_data, make_ltv_data
from tests.models.estimator_contract import EstimatorContract


class _BaselineContract(EstimatorContract):
    n_rows = 300

    def score(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        """The one number per row that the reasons explain, shape (n,)."""
        raise NotImplementedError

    def test_reasons_come_with_the_score(self, fitted: Any, data: dict[str, Any]) -> None:
        X = data["X"].head(20)
        score, reasons = fitted.predict_with_reasons(X, top_n=2)
        np.testing.assert_allclose(score, self.score(fitted, X))
        assert len(reasons) == len(X) and any(reasons)
        for row in reasons:
            assert len(row) <= 2
            assert all(r["feature"] in set(fitted.feature_names_in_) for r in row)


class ClassifierBaselineContract(_BaselineContract):
    """Churn baselines: ``fit(X, y)`` with 0/1 labels, ``predict_proba`` of shape (n, 2)."""

    def make_data(self) -> dict[str, Any]:
        X, y, _ = make_churn_data(self.n_rows, seed=3)
        return {"X": X, "y": y}

    def fit(self, est: Any, data: dict[str, Any]) -> Any:
        return est.fit(data["X"], data["y"])

    def outputs(self, est: Any, data: dict[str, Any]) -> list[np.ndarray]:
        return [est.predict_proba(data["X"]), est.predict_with_reasons(data["X"])[0]]

    def score(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        return est.predict_proba(X)[:, 1]

    def bad_data(self, data: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        y = data["y"]
        three = y.copy()
        three[:2] = 2
        return [
            ({**data, "y": y[:-1]}, "label"),
            ({**data, "y": three}, "label"),
            ({**data, "y": np.zeros_like(y)}, "label"),
            ({**data, "X": data["X"].head(0), "y": y[:0]}, "empty"),
        ]

    def test_probabilities(self, fitted: Any, data: dict[str, Any]) -> None:
        proba = fitted.predict_proba(data["X"])
        assert proba.shape == (len(data["X"]), 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(fitted.predict(data["X"]), proba[:, 1] >= 0.5)


class ForecastBaselineContract(_BaselineContract):
    """Value forecasts read from one column: ``fit(X)``, ``predict`` of shape (n,)."""

    #: The column the forecast reads.
    column = "monetary_mean"

    def make_data(self) -> dict[str, Any]:
        X, y, _ = make_ltv_data(self.n_rows, seed=3)
        return {"X": X, "y": y}

    def fit(self, est: Any, data: dict[str, Any]) -> Any:
        return est.fit(data["X"], data["y"])

    def outputs(self, est: Any, data: dict[str, Any]) -> list[np.ndarray]:
        return [est.predict(data["X"]), est.predict_with_reasons(data["X"])[0]]

    def score(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        return est.predict(X)

    def bad_data(self, data: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        X = data["X"]
        text = X.assign(**{self.column: X[self.column].astype(object)})
        text.loc[text.index[4], self.column] = "n/a"
        return [
            ({**data, "X": X.drop(columns=[self.column])}, self.column),
            ({**data, "X": text}, self.column),
        ]

    def test_bad_values_at_predict_are_named(self, fitted: Any, data: dict[str, Any]) -> None:
        """Text that is no number is refused, not forecast as 0; a missing value is 0."""
        broken, _ = self.bad_data(data)[1]
        with pytest.raises(ValueError, match=f"{self.column}.*n/a"):
            fitted.predict(broken["X"])
        gaps = data["X"].head(3).assign(**{self.column: np.nan})
        np.testing.assert_array_equal(fitted.predict(gaps), 0.0)
