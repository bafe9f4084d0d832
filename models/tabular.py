"""Train LightGBM boosters on preprocessed tables: early stopping, and
:class:`BoostedTabularModel`, what the churn classifier and the LTV regressor share.

Preprocessing (column kinds, categories, dates) is in :mod:`models.preprocessing`, the
label checks in :mod:`models.label_checks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from kizuna.models.booster_settings import check_booster_settings
from kizuna.models.preprocessing import TabularPreprocessor, as_frame
from kizuna.models.reason_phrases import phrase_table
from kizuna.models.reasons import lightgbm_contributions, reference_points, top_reasons


def fit_booster(
    params: Mapping[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    num_boost_round: int,
    X_val: pd.DataFrame | None = None,
    y_val: np.ndarray | None = None,
    early_stopping_rounds: int | None = None,
    init_score: np.ndarray | None = None,
    val_init_score: np.ndarray | None = None,
) -> lgb.Booster:
    """Train a LightGBM booster on transformed frames, with optional early stopping.

    Parameters
    ----------
    params
        LightGBM parameters (objective, learning rate, ...).
    X, y
        Shapes (n, p) and (n,).
    X_val, y_val
        Shapes (m, p) and (m,); when given and ``early_stopping_rounds`` is set,
        boosting stops when the validation metric has not improved for that many
        rounds, and the booster keeps the best iteration.
    init_score, val_init_score
        Shapes (n,) and (m,): raw scores boosting starts from (a prior model's
        margin); the booster then learns corrections to them.
    num_boost_round
        Most boosting rounds.
    early_stopping_rounds
        Rounds without improvement on the validation data that stop boosting; None: no
        early stopping.

    Returns
    -------
    lightgbm.Booster
        At its best iteration when early stopping ran.
    """
    train = lgb.Dataset(X, label=y, init_score=init_score, free_raw_data=True)
    valid_sets: list[lgb.Dataset] = []
    callbacks: list[Any] = []
    if X_val is not None and y_val is not None and early_stopping_rounds:
        valid_sets = [lgb.Dataset(X_val, label=y_val, init_score=val_init_score, reference=train)]
        callbacks.append(lgb.early_stopping(early_stopping_rounds, verbose=False))
    booster = lgb.train(
        dict(params),
        train,
        num_boost_round=num_boost_round,
        valid_sets=valid_sets or None,
        callbacks=callbacks,
    )
    if booster.best_iteration and booster.best_iteration > 0:
        # Make plain predict() use the best iteration, so serving needs no extra argument.
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=booster.best_iteration)
        )
    return booster


class BoostedTabularModel(BaseEstimator):
    """What the LightGBM classifier and regressor share: preprocessing, boosting, reasons.

    Subclasses set the LightGBM objective and how raw scores become outputs.
    Attributes set by :meth:`_fit_booster`: ``preprocessor_``, ``booster_``,
    ``reference_``, ``feature_names_in_``, ``n_features_in_``, ``n_iterations_``.
    """

    # Hyper-parameters shared by subclasses; listed so __init__ stays declarative.
    n_estimators: int
    learning_rate: float
    num_leaves: int
    min_child_samples: int
    subsample: float
    colsample_bytree: float
    reg_lambda: float
    early_stopping_rounds: int | None
    drop: Sequence[str]
    categorical: Sequence[str]
    datetimes: Literal["days", "drop"]
    max_categories: int | None
    random_state: int
    n_jobs: int | None
    num_threads: int
    reason_phrases: Mapping[str, Sequence[str]] | None

    def _lgb_params(self, **objective: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            "deterministic": True,
            "force_col_wise": True,  # skips LightGBM's timing probe; results do not depend on it
            "verbosity": -1,
        }
        if self.subsample < 1.0:
            params.update(bagging_fraction=self.subsample, bagging_freq=1)
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        params.update(objective)
        return params

    def _fit_booster(
        self,
        X: Any,
        y: np.ndarray,
        X_val: Any,
        y_val: np.ndarray | None,
        params: dict[str, Any],
        init_score: Any = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Fit preprocessing and booster; return the transformed train and validation frames."""
        check_booster_settings(self)
        phrase_table(self.reason_phrases)  # a bad phrase table fails at fit, not at serving
        X = as_frame(X)
        pre = TabularPreprocessor(
            drop=self.drop,
            categorical=self.categorical,
            datetimes=self.datetimes,
            max_categories=self.max_categories,
        ).fit(X)
        Xt = pre.transform(X)
        Xv = None if X_val is None else pre.transform(as_frame(X_val))
        self.preprocessor_ = pre  # init_score reads it to find its column
        margins = (
            (None, None)
            if init_score is None
            else (
                init_score(pre.transform_matrix(X)),
                None if X_val is None else init_score(pre.transform_matrix(as_frame(X_val))),
            )
        )
        self.booster_ = fit_booster(
            params,
            Xt,
            y,
            num_boost_round=self.n_estimators,
            X_val=Xv,
            y_val=y_val,
            early_stopping_rounds=self.early_stopping_rounds,
            init_score=margins[0],
            val_init_score=margins[1],
        )
        self.preprocessor_ = pre
        self.feature_names_in_ = pre.feature_names_in_
        self.n_features_in_ = pre.n_features_in_
        self.n_iterations_ = self.booster_.num_trees()
        self.reference_ = reference_points(Xt.set_axis(list(pre.feature_names_in_), axis=1))
        return Xt, Xv

    def transform_matrix(self, X: Any) -> np.ndarray:
        """Booster input for ``X`` (n, p) as a float matrix, shape (n, p).

        Serving keeps these rows per customer and calls :meth:`predict_matrix`
        and :meth:`reasons_matrix` on them, skipping the DataFrame conversion.

        Parameters
        ----------
        X
            Features, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n, p), float64.
        """
        check_is_fitted(self, "booster_")
        return self.preprocessor_.transform_matrix(as_frame(X))

    def predict_matrix(self, M: np.ndarray) -> np.ndarray:
        """The model's score per row of a :meth:`transform_matrix` output, shape (n,).

        Parameters
        ----------
        M
            Output of :meth:`transform_matrix`, shape (n, p).

        Returns
        -------
        numpy.ndarray
            Shape (n,).
        """
        raise NotImplementedError

    def reasons_matrix(self, M: np.ndarray, *, top_n: int = 3) -> list[list[dict[str, Any]]]:
        """Up to ``top_n`` reasons per row of ``M`` (n, p) that the score is high.

        The one place reasons are phrased: :meth:`predict_with_reasons`, the
        service and the CRM export all call it, so custom ``reason_phrases``
        read the same everywhere. Reasons are dicts ``{"feature", "phrase",
        "contribution", "value"}``, contribution in raw booster units, largest first.

        Parameters
        ----------
        M
            Output of :meth:`transform_matrix`, shape (n, p).
        top_n
            Most reasons per row.

        Returns
        -------
        list of list of dict
            Per row, up to ``top_n`` reasons ``{"feature", "phrase", "contribution",
            "value"}``, largest contribution first.
        """
        check_is_fitted(self, "booster_")
        M = np.asarray(M, dtype=np.float64)
        contrib = lightgbm_contributions(self.booster_, M, num_threads=self.num_threads)
        return top_reasons(
            contrib,
            self._values(M),
            reference=self.reference_,
            top_n=top_n,
            sign=1,
            phrases=phrase_table(self.reason_phrases),
        )

    def predict_with_reasons(
        self, X: Any, top_n: int = 3
    ) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Score (n,) and, per row, up to ``top_n`` reasons it is high (see :meth:`reasons_matrix`).

        Parameters
        ----------
        X
            Features, shape (n, p), with the columns seen at fit.
        top_n
            Most reasons per row.

        Returns
        -------
        score : numpy.ndarray
            Shape (n,).
        reasons : list of list of dict
            Per row, up to ``top_n`` reasons ``{"feature", "phrase", "contribution",
            "value"}``, largest contribution first.
        """
        M = self.transform_matrix(X)
        return self.predict_matrix(M), self.reasons_matrix(M, top_n=top_n)

    def _raw_score(self, M: np.ndarray | pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(M, raw_score=True, num_threads=self.num_threads))

    def _values(self, M: np.ndarray) -> pd.DataFrame:
        """The booster input with the user's column names and categories spelled out."""
        pre = self.preprocessor_
        cols: dict[str, Any] = {}
        for j, col in enumerate(pre.feature_names_in_):
            if pre.dtypes_[col] == "category":
                spelled = np.array([*pre.categories_[col], None], dtype=object)
                codes = np.where(np.isnan(M[:, j]), -1, M[:, j]).astype(np.int64)
                cols[col] = spelled[codes]  # code -1 picks the trailing None
            else:
                cols[col] = M[:, j]
        return pd.DataFrame(cols)

    def feature_importance(self, importance_type: str = "gain") -> pd.Series:
        """Importance per input column, shape (p,), descending.

        Parameters
        ----------
        importance_type
            LightGBM's ``"gain"`` or ``"split"``.

        Returns
        -------
        pandas.Series
            Shape (p,), indexed by input column, descending.
        """
        check_is_fitted(self, "booster_")
        values = self.booster_.feature_importance(importance_type=importance_type)
        return pd.Series(
            values, index=list(self.feature_names_in_), name=importance_type
        ).sort_values(ascending=False, kind="stable")
