"""Shared contracts for the classifier and regressor families.

A new model costs a few lines of tests::

    class TestMyClassifier(ClassifierContract):
        def make_estimator(self):
            return MyClassifier(n_estimators=50)

The contract checks the sklearn rules (clone, params, fitted state), the
input-error rules (KizunaInputError naming the column), shapes and ranges,
determinism, pickling, reason codes, and that the model learns a known signal
from synthetic data. Model-specific accuracy bars live in each model's tests.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from kizuna.features.errors import KizunaInputError
from kizuna.training.metrics_regression import spearman
from kizuna.training.metrics_tabular import roc_auc


def make_churn_data(
    n: int, *, seed: int, shift: float = 0.0, recency_coef: float = 0.02, trend_coef: float = -1.0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Behaviour-like features and churn labels drawn from a known logistic model.

    Churn log-odds = -1 + recency_coef * (recency_days - 60) + trend_coef * trend + shift;
    the other columns carry no signal. ``shift`` moves the base rate, as
    between two snapshots.

    Returns
    -------
    X : (n, 7) DataFrame, y : (n,) int 0/1, p : (n,) true churn probability.
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "recency_days": rng.exponential(60.0, n),
            "trend": rng.normal(0.0, 1.0, n),
            "frequency": rng.poisson(3.0, n).astype(float),
            "monetary_mean": rng.lognormal(3.0, 0.5, n),
            "orders_90d": rng.poisson(1.0, n).astype(float),
            "noise": rng.normal(0.0, 1.0, n),
            "channel": rng.choice(["web", "store", "app"], n),
        }
    )
    logit = -1.0 + recency_coef * (X["recency_days"] - 60.0) + trend_coef * X["trend"] + shift
    p = 1.0 / (1.0 + np.exp(-logit.to_numpy()))
    y = (rng.random(n) < p).astype(int)
    return X, y, p


def make_ltv_data(n: int, *, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Zero-inflated gamma horizon spend depending on known features.

    P(buy) = logistic(1 - 0.03 recency_days + 0.3 frequency);
    spend | buy ~ Gamma(shape 2, mean monetary_mean * (1 + 0.5 frequency)).

    Returns
    -------
    X : (n, 5) DataFrame, y : (n,) spend >= 0, expected : (n,) true E[spend].
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "recency_days": rng.exponential(60.0, n),
            "frequency": rng.poisson(3.0, n).astype(float),
            "monetary_mean": rng.lognormal(3.0, 0.5, n),
            "noise": rng.normal(0.0, 1.0, n),
            "channel": rng.choice(["web", "store", "app"], n),
        }
    )
    p_buy = 1.0 / (1.0 + np.exp(-(1.0 - 0.03 * X["recency_days"] + 0.3 * X["frequency"])))
    mean = X["monetary_mean"] * (1.0 + 0.5 * X["frequency"])
    buy = rng.random(n) < p_buy.to_numpy()
    y = np.where(buy, rng.gamma(2.0, mean.to_numpy() / 2.0), 0.0)
    return X, y, (p_buy * mean).to_numpy()


#: LightGBM settings the boosted models refuse at fit (LightGBM's own refusal is no
#: ValueError, and names the C++ source rather than the setting).
BAD_BOOSTER_SETTINGS: dict[str, Any] = {
    "n_estimators": 0,
    "learning_rate": -0.1,
    "num_leaves": 1,
    "min_child_samples": -3,
    "colsample_bytree": 1.5,
    "subsample": 0.0,
    "random_state": None,
}


class _Contract:
    """What both families share. Subclasses set the data and the prediction call."""

    n_train = 1500
    n_test = 1500

    def make_estimator(self) -> Any:
        raise NotImplementedError("return an unfitted estimator with fast settings")

    def make_data(self, n: int, *, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        raise NotImplementedError

    def output(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def score(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        """The one number per row that reasons explain, shape (n,)."""
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> dict[str, Any]:
        case = cls()
        X, y = case.make_data(cls.n_train, seed=0)
        X_val, y_val = case.make_data(cls.n_train, seed=1)
        X_test, y_test = case.make_data(cls.n_test, seed=2)
        return {"X": X, "y": y, "X_val": X_val, "y_val": y_val, "X_test": X_test, "y_test": y_test}

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, data: dict[str, Any]) -> Any:
        """One fit per test class, shared by the tests that only read it."""
        return (
            cls()
            .make_estimator()
            .fit(data["X"], data["y"], X_val=data["X_val"], y_val=data["y_val"])
        )

    def test_fit_returns_self(self, data: dict[str, Any]) -> None:
        est = self.make_estimator()
        assert est.fit(data["X"], data["y"], X_val=data["X_val"], y_val=data["y_val"]) is est

    def test_init_only_stores_params(self) -> None:
        est = self.make_estimator()
        twin = clone(est)
        assert twin.get_params() == est.get_params()
        assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]

    def test_unfitted_predict_raises(self, data: dict[str, Any]) -> None:
        with pytest.raises(NotFittedError):
            self.output(self.make_estimator(), data["X_test"])

    def bad_settings(self) -> dict[str, Any]:
        """Parameter values ``fit`` must refuse, naming the parameter; none by default."""
        params = self.make_estimator().get_params()
        return {k: v for k, v in BAD_BOOSTER_SETTINGS.items() if k in params}

    def test_bad_settings_are_refused_at_fit_by_name(self, data: dict[str, Any]) -> None:
        bad = self.bad_settings()
        if not bad:
            pytest.skip("the model has no settings to refuse")
        for name, value in bad.items():
            est = self.make_estimator().set_params(**{name: value})  # __init__ does not check
            with pytest.raises(KizunaInputError, match=name):
                est.fit(data["X"], data["y"])

    def test_missing_column_is_named(self, fitted: Any, data: dict[str, Any]) -> None:
        used = list(fitted.feature_names_in_)
        with pytest.raises(KizunaInputError, match=used[0]):
            self.output(fitted, data["X_test"].drop(columns=[used[0]]))

    def test_column_order_and_extra_columns_do_not_matter(
        self, fitted: Any, data: dict[str, Any]
    ) -> None:
        X = data["X_test"]
        shuffled = X[X.columns[::-1]].assign(unrelated_extra=1.0)
        np.testing.assert_allclose(self.output(fitted, shuffled), self.output(fitted, X))

    def test_same_seed_same_model(self, fitted: Any, data: dict[str, Any]) -> None:
        twin = clone(fitted).fit(data["X"], data["y"], X_val=data["X_val"], y_val=data["y_val"])
        np.testing.assert_array_equal(
            self.output(twin, data["X_test"]), self.output(fitted, data["X_test"])
        )

    def test_pickle_round_trip(self, fitted: Any, data: dict[str, Any]) -> None:
        again = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(
            self.output(again, data["X_test"]), self.output(fitted, data["X_test"])
        )

    def test_length_mismatch_is_an_input_error(self, data: dict[str, Any]) -> None:
        with pytest.raises(KizunaInputError, match="rows"):
            self.make_estimator().fit(data["X"], data["y"][:-1])

    def test_validation_labels_in_another_row_order_are_refused(self, data: dict[str, Any]) -> None:
        # Labels indexed by customer but sorted differently from X_val would pair each
        # customer with another's label (LTV took them silently).
        X_val = data["X_val"].set_axis([f"C{i}" for i in range(len(data["X_val"]))])
        reordered = pd.Series(np.asarray(data["y_val"]), index=X_val.index).iloc[::-1]
        with pytest.raises(KizunaInputError, match="order"):
            self.make_estimator().fit(data["X"], data["y"], X_val=X_val, y_val=reordered)

    def test_reasons_are_ranked_phrases(self, fitted: Any, data: dict[str, Any]) -> None:
        X = data["X_test"].head(50)
        score, reasons = fitted.predict_with_reasons(X, top_n=2)
        np.testing.assert_allclose(score, self.score(fitted, X))
        assert len(reasons) == len(X)
        assert any(reasons), "no row got any reason"
        for row in reasons:
            assert len(row) <= 2
            contributions = [r["contribution"] for r in row]
            assert all(c > 0 for c in contributions)
            assert contributions == sorted(contributions, reverse=True)
            for r in row:
                assert r["feature"] in set(fitted.feature_names_in_)
                assert isinstance(r["phrase"], str) and r["phrase"]

    def test_matrix_path_equals_frame_path(self, fitted: Any, data: dict[str, Any]) -> None:
        """Serving keeps ``transform_matrix`` rows and scores them with ``predict_matrix``."""
        X = data["X_test"].head(200)
        M = fitted.transform_matrix(X)
        assert M.shape[0] == len(X) and M.dtype == np.float64
        np.testing.assert_array_equal(fitted.predict_matrix(M), self.score(fitted, X))
        np.testing.assert_array_equal(fitted.predict_matrix(M[3:4]), self.score(fitted, X)[3:4])

    def test_reasons_matrix_equals_predict_with_reasons(
        self, fitted: Any, data: dict[str, Any]
    ) -> None:
        """One reasons method: the serving path and the model's own method agree exactly."""
        X = data["X_test"].head(40)
        _, reasons = fitted.predict_with_reasons(X, top_n=3)
        M = fitted.transform_matrix(X)
        assert fitted.reasons_matrix(M, top_n=3) == reasons
        # row by row (as the service's per-customer cache asks) gives the same
        assert [fitted.reasons_matrix(M[i : i + 1], top_n=3)[0] for i in range(5)] == reasons[:5]


class ClassifierContract(_Contract):
    """Contract of the churn classifiers: ``fit(X, y, *, X_val, y_val)``, ``predict_proba``."""

    def make_data(self, n: int, *, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        X, y, _ = make_churn_data(n, seed=seed)
        return X, y

    def output(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        return est.predict_proba(X)

    def score(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        return est.predict_proba(X)[:, 1]

    def test_predict_proba_is_a_distribution(self, fitted: Any, data: dict[str, Any]) -> None:
        proba = fitted.predict_proba(data["X_test"])
        assert proba.shape == (len(data["X_test"]), 2)
        assert np.all((proba >= 0) & (proba <= 1))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(fitted.classes_, [0, 1])
        np.testing.assert_array_equal(
            fitted.predict(data["X_test"]), (proba[:, 1] >= 0.5).astype(int)
        )

    def test_learns_the_signal(self, fitted: Any, data: dict[str, Any]) -> None:
        auc = roc_auc(data["y_test"], fitted.predict_proba(data["X_test"])[:, 1])
        assert auc > 0.65

    def test_one_class_labels_are_refused(self, data: dict[str, Any]) -> None:
        with pytest.raises(KizunaInputError, match="both classes"):
            self.make_estimator().fit(data["X"], np.zeros(len(data["X"]), dtype=int))

    def test_non_binary_labels_are_refused(self, data: dict[str, Any]) -> None:
        y = data["y"].copy()
        y[:3] = 2
        with pytest.raises(KizunaInputError, match="0/1"):
            self.make_estimator().fit(data["X"], y)


class RegressorContract(_Contract):
    """Contract of the value regressors: ``fit(X, y, *, X_val, y_val)``, ``predict >= 0``."""

    def make_data(self, n: int, *, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        X, y, _ = make_ltv_data(n, seed=seed)
        return X, y

    def output(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        return est.predict(X)

    def score(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        return est.predict(X)

    def test_predictions_are_non_negative_values(self, fitted: Any, data: dict[str, Any]) -> None:
        pred = fitted.predict(data["X_test"])
        assert pred.shape == (len(data["X_test"]),)
        assert np.all(np.isfinite(pred)) and pred.min() >= 0

    def test_learns_the_signal(self, fitted: Any, data: dict[str, Any]) -> None:
        assert spearman(data["y_test"], fitted.predict(data["X_test"])) > 0.3

    def test_missing_target_is_refused(self, data: dict[str, Any]) -> None:
        y = data["y"].astype(float).copy()
        y[5] = np.nan
        with pytest.raises(KizunaInputError, match="missing"):
            self.make_estimator().fit(data["X"], y)
