"""The servable baselines under the shared baseline contract, plus hand-worked forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.models.baselines import AttributeLogisticBaseline, ColumnForecast
from tests.models.baseline_contract import ClassifierBaselineContract, ForecastBaselineContract


class TestAttributeLogisticBaselineContract(ClassifierBaselineContract):
    def make_estimator(self) -> AttributeLogisticBaseline:
        return AttributeLogisticBaseline(calibration=None)

    def bad_settings(self) -> dict:
        return {"C": -1.0, "calibration": "bogus", "max_categories": 0}


class TestColumnForecastContract(ForecastBaselineContract):
    def make_estimator(self) -> ColumnForecast:
        return ColumnForecast(self.column)


def test_column_forecast_reads_numbers_written_as_text() -> None:
    X = pd.DataFrame({"value": ["1.5", None, "20"], "other": [9.0, 9.0, 9.0]})
    model = ColumnForecast("value").fit(X)
    np.testing.assert_array_equal(model.predict(X), [1.5, 0.0, 20.0])
