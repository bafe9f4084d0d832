"""The contract every uplift meta-learner follows: :class:`UpliftLearner`.

``fit(X, treatment, y)``, ``predict_uplift(X) -> (n,)`` and
``predict_outcomes(X) -> (n, 2)`` (untreated, treated), with the checks on
the campaign's groups and outcome, the feature preprocessing and the LightGBM
settings every component model shares. The learners themselves
(:class:`~models.uplift.TLearner`, :class:`~models.uplift.XLearner`) are in
:mod:`models.uplift`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.booster_settings import check_booster_settings
from kizuna.models.label_checks import check_binary_labels, check_target
from kizuna.models.preprocessing import TabularPreprocessor, as_frame

Outcome = Literal["auto", "binary", "continuous"]
MIN_GROUP_ROWS = 20


class UpliftLearner(BaseEstimator):
    """What the meta-learners share: checks, preprocessing, LightGBM settings.

    Parameters
    ----------
    outcome
        ``"binary"`` (0/1: LightGBM ``binary``, uplift in probability),
        ``"continuous"`` (squared error) or ``"auto"`` (binary when ``y`` holds
        only 0 and 1).
    n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda,
    colsample_bytree
        LightGBM settings of every component model. Defaults are deliberately
        regularised: an effect is a difference of noisy estimates.
    drop, categorical
        Passed to :class:`~models.preprocessing.TabularPreprocessor`.
    random_state
        Seed; component ``i`` uses ``random_state + i``.
    n_jobs
        LightGBM threads for training and prediction.

    Attributes
    ----------
    preprocessor_ : TabularPreprocessor
    outcome_ : str
        ``"binary"`` or ``"continuous"``.
    treated_share_ : float
        Share of treated rows at fit.
    feature_names_in_ : numpy.ndarray
    n_features_in_ : int
    """

    def __init__(
        self,
        *,
        outcome: Outcome = "auto",
        n_estimators: int = 100,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        reg_lambda: float = 1.0,
        colsample_bytree: float = 1.0,
        drop: Sequence[str] = (),
        categorical: Sequence[str] = (),
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.outcome = outcome
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.drop = drop
        self.categorical = categorical
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- contract --------------------------------------------------------------------
    def fit(self, X: Any, treatment: Any, y: Any) -> UpliftLearner:
        """Fit on features ``X`` (n, p), 0/1 ``treatment`` (n,) and outcome ``y`` (n,).

        Parameters
        ----------
        X
            Features, shape (n, p).
        treatment
            0/1 (or boolean): whether each customer was offered, shape (n,).
        y
            The outcome, shape (n,): 0/1 or a number (see ``outcome``).

        Returns
        -------
        UpliftLearner
            ``self``.
        """
        check_booster_settings(self)
        X = as_frame(X)
        rows_index = getattr(X, "index", None)
        t = check_binary_labels(
            treatment, n_rows=len(X), name="treatment", index=rows_index
        ).astype(bool)
        for group, rows in (("treated", t), ("control", ~t)):
            if rows.sum() < MIN_GROUP_ROWS:
                raise KizunaInputError(
                    f"the {group} group has {int(rows.sum())} rows; uplift needs at least "
                    f"{MIN_GROUP_ROWS} in each group", column="treatment",
                )  # fmt: skip
        self.outcome_ = self._outcome_kind(y, len(X))
        yv = (
            check_binary_labels(y, n_rows=len(X), name="outcome", index=rows_index).astype(float)
            if self.outcome_ == "binary"
            else check_target(y, n_rows=len(X), name="outcome", index=rows_index)
        )
        pre = TabularPreprocessor(drop=self.drop, categorical=self.categorical).fit(X)
        self.preprocessor_ = pre
        self.feature_names_in_ = pre.feature_names_in_
        self.n_features_in_ = pre.n_features_in_
        self.treated_share_ = float(t.mean())
        self._fit_components(pre.transform(X), t, yv)
        return self

    def predict_uplift(self, X: Any) -> np.ndarray:
        """Estimated effect of treating, shape (n,): a change in probability (binary)
        or in the outcome's units (continuous).

        Parameters
        ----------
        X
            Features, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n,).
        """
        return self._uplift(self._matrix(X))

    def predict_outcomes(self, X: Any) -> np.ndarray:
        """Shape (n, 2): expected outcome without (column 0) and with (column 1) treatment,
        from the first-stage models.

        Parameters
        ----------
        X
            Features, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n, 2): without, with treatment.
        """
        M = self._matrix(X)
        return np.column_stack(
            [self._predict(self.model_control_, M), self._predict(self.model_treated_, M)]
        )

    # -- for subclasses --------------------------------------------------------------
    def _fit_components(self, Xt: pd.DataFrame, t: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _uplift(self, M: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _outcome_kind(self, y: Any, n: int) -> str:
        if self.outcome not in ("auto", "binary", "continuous"):
            raise KizunaInputError(
                f"outcome must be 'auto', 'binary' or 'continuous', got {self.outcome!r}",
                column="outcome",
            )
        if self.outcome != "auto":
            return self.outcome
        values = pd.to_numeric(pd.Series(np.asarray(y).ravel()), errors="coerce")
        return "binary" if values.notna().all() and values.isin([0, 1]).all() else "continuous"

    def _params(self, objective: str, seed_offset: int) -> dict[str, Any]:
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "feature_fraction": self.colsample_bytree,
            "seed": self.random_state + seed_offset,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }

    def _train(
        self, Xt: pd.DataFrame, y: np.ndarray, objective: str, seed_offset: int
    ) -> lgb.Booster:
        data = lgb.Dataset(Xt, label=y, free_raw_data=True)
        return lgb.train(
            self._params(objective, seed_offset), data, num_boost_round=self.n_estimators
        )

    def _outcome_objective(self) -> str:
        return "binary" if self.outcome_ == "binary" else "regression"

    def _predict(self, booster: lgb.Booster, M: np.ndarray | pd.DataFrame) -> np.ndarray:
        return np.asarray(booster.predict(M, num_threads=self.n_jobs), dtype=float)

    def _matrix(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "preprocessor_")
        return self.preprocessor_.transform_matrix(as_frame(X))
