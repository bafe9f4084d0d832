"""The shared contract of the buy-till-you-die (BTYD) estimators.

A new BTYD model costs a few lines::

    class TestMyBTYD(BTYDContract):
        fit_columns = ("frequency", "recency", "T")

        def make_estimator(self):
            return MyBTYD()

        def outputs(self, est, data):
            return [est.probability_alive(*self.fit_arrays(data))]

On top of :class:`~tests.models.estimator_contract.EstimatorContract`, it checks what
:class:`~models.btyd_base.BTYDModel` promises: the optimiser settings are validated at
fit, ``params_`` holds every name of ``param_names`` (positive, finite), and each summary
column is refused, by name, when it holds NaN, negative values, or a length of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kizuna.models.btyd import BTYDModel
from tests.models.btyd_data import TRUE_BGNBD, simulate_bgnbd
from tests.models.estimator_contract import EstimatorContract


class BTYDContract(EstimatorContract):
    """Subclass; set ``fit_columns`` (the arrays ``fit`` takes, in order) and ``outputs``."""

    fit_columns: tuple[str, ...] = ()
    #: Customers drawn from the BG/NBD (a few hundred: the optimiser converges in ms).
    n_customers = 300

    def make_data(self) -> dict[str, Any]:
        rng = np.random.default_rng(7)
        T = rng.uniform(10.0, 40.0, self.n_customers)
        sim = simulate_bgnbd(TRUE_BGNBD, T, horizon=10.0, rng=rng)
        # Mean repeat spend: positive for repeat customers, 0 for the others (as rfm_summary).
        spend = np.where(sim["frequency"] > 0, rng.gamma(4.0, 5.0, self.n_customers), 0.0)
        return {**sim, "monetary_value": spend}

    def fit_arrays(self, data: dict[str, Any]) -> list[np.ndarray]:
        return [np.asarray(data[c]) for c in self.fit_columns]

    def fit(self, est: Any, data: dict[str, Any]) -> Any:
        return est.fit(*self.fit_arrays(data))

    def bad_settings(self) -> dict[str, Any]:
        return {"penalizer_coef": -1.0, "tol": 0.0, "max_iter": 2.5}

    def bad_data(self, data: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        cases = []
        for column in self.fit_columns:
            values = np.asarray(data[column], dtype=float)
            row = int(np.argmax(values))  # a row where the value is > 0: its breakage shows
            nan, negative = values.copy(), values.copy()
            nan[row], negative[row] = np.nan, -1.0
            cases += [
                ({**data, column: nan}, f"'{column}'"),
                ({**data, column: negative}, f"'{column}'"),
            ]
        shorter = {**data, self.fit_columns[-1]: np.asarray(data[self.fit_columns[-1]])[:-1]}
        cases.append((shorter, "same length"))
        return cases

    def test_is_a_btyd_model_with_named_positive_params(self, fitted: Any) -> None:
        assert isinstance(fitted, BTYDModel)
        assert list(fitted.params_) == list(fitted.param_names)
        values = np.array(list(fitted.params_.values()))
        assert np.all(np.isfinite(values)) and np.all(values > 0)
        assert np.isfinite(fitted.log_likelihood_) and fitted.n_iter_ >= 1
        assert fitted.converged_
