"""The servable baselines under the shared baseline contract, plus hand-worked forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.models.baselines import AttributeLogisticBaseline
from kizuna.models.column_forecast import ColumnForecast
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


def test_column_forecast_keeps_the_readme_path_and_old_bundles_load():
    import pickle

    from kizuna.models import baselines

    assert baselines.ColumnForecast is ColumnForecast  # the README names kizuna.models.baselines
    fitted = ColumnForecast("value").fit(pd.DataFrame({"value": [1.0, 2.0]}))
    # A bundle pickled before ColumnForecast moved names the class by its old module.
    old = pickle.dumps(fitted, protocol=0).replace(
        b"kizuna.models.column_forecast", b"kizuna.models.baselines"
    )
    assert b"kizuna.models.baselines" in old
    loaded = pickle.loads(old)
    np.testing.assert_array_equal(loaded.predict(pd.DataFrame({"value": [3.0, None]})), [3.0, 0.0])
