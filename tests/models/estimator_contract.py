"""The scikit-learn estimator rules every model family shares, whatever its fit signature.

A family contract (:mod:`tests.models.btyd_contract`, :mod:`tests.models.uplift_contract`,
:mod:`tests.models.baseline_contract`) subclasses :class:`EstimatorContract` and says how
its models are fitted and read; a model then costs a few lines::

    class TestMyModel(BTYDContract):
        def make_estimator(self):
            return MyModel(tol=1e-8)

The rules, in the spirit of scikit-learn's ``check_estimator``:

- ``__init__`` only stores its parameters: ``get_params`` round-trips through ``clone``
  and ``set_params``, nothing else is stored, and nonsense settings are accepted there;
- ``fit`` validates: bad data and those nonsense settings raise a ``ValueError`` naming
  the argument or setting at fault;
- ``fit`` returns ``self``; every attribute it sets ends in ``_`` (or is private) and
  none exists before it;
- reading a model before ``fit`` raises :class:`~sklearn.exceptions.NotFittedError`;
- ``clone`` of a fitted model is unfitted with the same parameters;
- fitting twice on the same data (the same object, or a clone) gives the same outputs;
- a pickled model gives the same outputs.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError


def public_learned(est: Any) -> list[str]:
    """Names of the public attributes ending in ``_`` that ``est`` holds."""
    return sorted(k for k in vars(est) if k.endswith("_") and not k.startswith("_"))


class EstimatorContract:
    """Subclass and define the hooks; the tests only read ``fitted`` (one fit per class)."""

    def make_estimator(self) -> Any:
        raise NotImplementedError("return an unfitted estimator with fast settings")

    def make_data(self) -> dict[str, Any]:
        """Small training data; what ``fit`` and ``outputs`` read."""
        raise NotImplementedError

    def fit(self, est: Any, data: dict[str, Any]) -> Any:
        """Fit ``est`` on ``data`` and return what ``fit`` returned."""
        raise NotImplementedError

    def outputs(self, est: Any, data: dict[str, Any]) -> list[np.ndarray]:
        """Every prediction the family offers, for the tests that compare models."""
        raise NotImplementedError

    def bad_data(self, data: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        """(broken copy of ``data``, text the ValueError must contain) pairs."""
        raise NotImplementedError

    def bad_settings(self) -> dict[str, Any]:
        """Parameter values that ``fit`` must refuse, one at a time, naming the parameter."""
        return {}

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> dict[str, Any]:
        return cls().make_data()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, data: dict[str, Any]) -> Any:
        case = cls()
        return case.fit(case.make_estimator(), data)

    def assert_same_outputs(self, a: Any, b: Any, data: dict[str, Any]) -> None:
        for left, right in zip(self.outputs(a, data), self.outputs(b, data), strict=True):
            np.testing.assert_array_equal(left, right)

    # --- __init__ -------------------------------------------------------------------------

    def test_init_only_stores_params(self) -> None:
        est = self.make_estimator()
        params = est.get_params()
        assert clone(est).get_params() == params
        assert est.set_params(**params) is est and est.get_params() == params
        assert set(vars(est)) == set(params), "__init__ stored something that is not a param"

    def test_init_accepts_bad_settings_and_fit_refuses_them(self, data: dict[str, Any]) -> None:
        for name, value in self.bad_settings().items():
            est = self.make_estimator().set_params(**{name: value})  # no error yet
            assert est.get_params()[name] is value
            with pytest.raises(ValueError, match=name):
                self.fit(est, data)

    # --- fit --------------------------------------------------------------------------------

    def test_fit_returns_self_and_sets_only_learned_attributes(self, data: dict[str, Any]) -> None:
        est = self.make_estimator()
        before = set(vars(est))
        assert not public_learned(est)
        assert self.fit(est, data) is est
        added = set(vars(est)) - before
        assert added, "fit learned nothing"
        assert all(k.endswith("_") or k.startswith("_") for k in added), sorted(added)
        assert est.get_params() == self.make_estimator().get_params(), "fit changed a param"

    def test_bad_data_is_a_value_error_naming_the_field(self, data: dict[str, Any]) -> None:
        cases = self.bad_data(data)
        assert cases, "the family names no bad input"
        for broken, field in cases:
            with pytest.raises(ValueError, match=field):
                self.fit(self.make_estimator(), broken)

    # --- fitted state -----------------------------------------------------------------------

    def test_reading_before_fit_raises_not_fitted(self, data: dict[str, Any]) -> None:
        with pytest.raises(NotFittedError):
            self.outputs(self.make_estimator(), data)

    def test_clone_of_a_fitted_model_is_unfitted(self, fitted: Any, data: dict[str, Any]) -> None:
        twin = clone(fitted)
        assert twin.get_params() == fitted.get_params()
        assert not public_learned(twin)
        with pytest.raises(NotFittedError):
            self.outputs(twin, data)

    def test_fitting_twice_gives_the_same_model(self, fitted: Any, data: dict[str, Any]) -> None:
        again = self.fit(self.fit(clone(fitted), data), data)  # refit on a fitted object
        self.assert_same_outputs(again, fitted, data)

    def test_pickle_round_trip(self, fitted: Any, data: dict[str, Any]) -> None:
        self.assert_same_outputs(pickle.loads(pickle.dumps(fitted)), fitted, data)
