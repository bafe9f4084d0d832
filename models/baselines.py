"""Baselines that can be served in place of a tuned model.

* :class:`AttributeLogisticBaseline`: regularised logistic regression on
  every attribute of a customer table (one-hot categories, scaled numbers,
  median imputation with missing flags): the contractual churn baseline.
* :class:`ColumnForecast`: a value forecast read from one feature column
  (the BG/NBD x Gamma-Gamma expectation, or last period's revenue): the LTV
  baselines, servable when they beat the tuned model. It is defined in
  :mod:`models.column_forecast`; the README names it here, and bundles saved
  before it moved unpickle it from here.

Both follow the classifier / regressor contracts of :mod:`models.churn` and
:mod:`models.ltv` (``fit``, ``predict_proba`` or ``predict``,
``predict_with_reasons``), so a bundle can hold them unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.calibration import Calibration, fit_calibrator
from kizuna.models.column_forecast import ColumnForecast as ColumnForecast  # the README's path
from kizuna.models.label_checks import check_binary_labels
from kizuna.models.preprocessing import TabularPreprocessor, as_frame
from kizuna.models.reasons import reference_points, top_reasons


class AttributeLogisticBaseline(ClassifierMixin, BaseEstimator):
    """L2 logistic regression on every attribute: the baseline a churn booster must beat.

    Parameters
    ----------
    C
        Inverse L2 strength (on standardised numbers and 0/1 category flags).
    drop, categorical, max_categories
        As in :class:`models.preprocessing.TabularPreprocessor` (``drop`` removes
        the same columns as it does from the booster).
    calibration
        As in :class:`models.churn.ChurnClassifier`.

    Attributes
    ----------
    preprocessor_ : TabularPreprocessor
    blocks_ : list of (column, kind, n_columns)
        How each input column expands in the design matrix.
    fill_, center_, scale_ : dict of str -> float
        Imputation value, mean and std of each numeric column.
    n_categories_ : dict of str -> int
    design_mean_ : numpy.ndarray
        Shape (n_design,): mean design row at training, the reference for reasons.
    model_ : sklearn.linear_model.LogisticRegression
    calibrator_ : models.calibration.ScoreCalibrator or None
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        drop: Sequence[str] = (),
        categorical: Sequence[str] = (),
        max_categories: int | None = 50,
        calibration: Calibration = "auto",
    ) -> None:
        self.C = C
        self.drop = drop
        self.categorical = categorical
        self.max_categories = max_categories
        self.calibration = calibration

    def fit(
        self, X: Any, y: Any, *, X_val: Any = None, y_val: Any = None
    ) -> AttributeLogisticBaseline:
        """Fit on ``X`` (n, p) and 0/1 labels ``y`` (n,); calibrate on ``X_val``/``y_val``.

        Parameters
        ----------
        X
            Customer attributes, shape (n, p).
        y
            0/1 churn labels, shape (n,).
        X_val, y_val
            Shapes (m, p) and (m,), to calibrate on; both or neither.

        Returns
        -------
        AttributeLogisticBaseline
            ``self``.
        """
        X = as_frame(X)
        y = check_binary_labels(y, n_rows=len(X), index=getattr(X, "index", None))
        if (X_val is None) != (y_val is None):
            raise KizunaInputError("give both X_val and y_val, or neither", column="X_val")
        pre = TabularPreprocessor(
            drop=self.drop, categorical=self.categorical, max_categories=self.max_categories
        ).fit(X)
        if pre.n_features_in_ == 0:
            raise KizunaInputError("no attribute left for the logistic baseline", column="drop")
        self.preprocessor_ = pre
        M = pre.transform_matrix(X)
        self.fill_, self.center_, self.scale_, self.n_categories_ = {}, {}, {}, {}
        for j, col in enumerate(pre.feature_names_in_):
            if pre.dtypes_[col] == "category":
                self.n_categories_[col] = len(pre.categories_[col])
                continue
            values = M[:, j]
            fill = float(np.nanmedian(values)) if np.isfinite(values).any() else 0.0
            filled = np.where(np.isnan(values), fill, values)
            self.fill_[col], self.center_[col] = fill, float(filled.mean())
            std = float(filled.std())
            self.scale_[col] = std if std > 0 else 1.0
        design, self.blocks_ = self._design(M)
        self.design_mean_ = design.mean(axis=0)
        self.model_ = LogisticRegression(C=self.C, max_iter=2000).fit(design, y)
        self.reference_ = reference_points(
            pre.transform(X).set_axis(list(pre.feature_names_in_), axis=1)
        )
        score_val = y_val_arr = None
        if X_val is not None:
            X_val = as_frame(X_val)
            y_val_arr = check_binary_labels(
                y_val,
                n_rows=len(X_val),
                name="validation label",
                index=getattr(X_val, "index", None),
            )
            score_val = self.decision_function(X_val)
        self.calibrator_ = fit_calibrator(self.calibration, score_val, y_val_arr)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = pre.feature_names_in_
        self.n_features_in_ = pre.n_features_in_
        return self

    def _design(self, M: np.ndarray) -> tuple[np.ndarray, list[tuple[str, str, int]]]:
        """Preprocessed matrix (n, p) -> design (n, d) and its column blocks."""
        parts, blocks = [], []
        for j, col in enumerate(self.preprocessor_.feature_names_in_):
            values = M[:, j]
            if col in self.n_categories_:
                n_cat = self.n_categories_[col]
                codes = np.where(np.isnan(values), n_cat, values).astype(int)
                onehot = np.zeros((len(values), n_cat + 1))  # last column: missing or unseen
                onehot[np.arange(len(values)), codes] = 1.0
                parts.append(onehot)
                blocks.append((col, "category", n_cat + 1))
            else:
                missing = np.isnan(values)
                filled = np.where(missing, self.fill_[col], values)
                parts.append(((filled - self.center_[col]) / self.scale_[col])[:, None])
                parts.append(missing[:, None].astype(float))
                blocks.append((col, "numeric", 2))
        return np.hstack(parts), blocks

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw log-odds, shape (n,).

        Parameters
        ----------
        X
            Customer attributes, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n,), log-odds of churn.
        """
        check_is_fitted(self, "model_")
        design, _ = self._design(self.preprocessor_.transform_matrix(as_frame(X)))
        return self.model_.decision_function(design)

    def _proba_from_score(self, score: np.ndarray) -> np.ndarray:
        return expit(score) if self.calibrator_ is None else self.calibrator_.transform(score)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Churn probabilities, shape (n, 2): columns P(stay), P(churn).

        Parameters
        ----------
        X
            Customer attributes, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n, 2): columns P(stay), P(churn).
        """
        p = self._proba_from_score(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """0/1 at probability 0.5, shape (n,).

        Parameters
        ----------
        X
            Customer attributes, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n,), int 0/1.
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def predict_with_reasons(
        self, X: Any, top_n: int = 3
    ) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Churn probability (n,) and up to ``top_n`` reasons per row.

        An attribute's contribution is the coefficients times how far its
        design columns are from the average training row (log-odds).

        Parameters
        ----------
        X
            Customer attributes, shape (n, p), with the columns seen at fit.
        top_n
            Most reasons per row.

        Returns
        -------
        score : numpy.ndarray
            Shape (n,): churn probability.
        reasons : list of list of dict
            Per row, up to ``top_n`` reasons ``{"feature", "phrase", "contribution",
            "value"}``, largest contribution first.
        """
        check_is_fitted(self, "model_")
        X = as_frame(X)
        M = self.preprocessor_.transform_matrix(X)
        design, blocks = self._design(M)
        weighted = (design - self.design_mean_) * self.model_.coef_[0]
        edges = np.cumsum([0] + [size for _, _, size in blocks])
        contrib = np.add.reduceat(weighted, edges[:-1], axis=1)
        values = self.preprocessor_.transform(X).set_axis(
            list(self.preprocessor_.feature_names_in_), axis=1
        )
        reasons = top_reasons(contrib, values, reference=self.reference_, top_n=top_n, sign=1)
        score = self.model_.decision_function(design)
        return self._proba_from_score(score), reasons
