"""The churn baseline: logistic regression on log RFM columns, which the LightGBM model must beat.

Same contract as :class:`models.churn.ChurnClassifier` (see
tests/models/classifier_contract.py), calibrated the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.calibration import Calibration, fit_calibrator
from kizuna.models.churn import proba_2col
from kizuna.models.label_checks import check_binary_labels
from kizuna.models.preprocessing import TabularPreprocessor, as_frame
from kizuna.models.reasons import reference_points, top_reasons

#: Column sets the baseline looks for, in order: behaviour RFM, then the BTYD summary.
RFM_COLUMN_SETS: tuple[tuple[str, ...], ...] = (
    (s.RECENCY_DAYS, s.FREQUENCY, s.MONETARY_MEAN),
    (s.REPEAT_PERIODS, s.RECENCY, s.T, s.MONETARY_VALUE),
)


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    # Net spend can be negative (returns); the sign survives and the scale is tamed.
    return np.sign(x) * np.log1p(np.abs(x))


class RFMLogisticBaseline(ClassifierMixin, BaseEstimator):
    """Logistic regression on log1p RFM columns: the baseline the LightGBM model must beat.

    Parameters
    ----------
    columns
        RFM columns to use; ``None`` picks the first set of
        :data:`RFM_COLUMN_SETS` that ``X`` holds.
    C
        Inverse L2 strength of the logistic regression.
    calibration
        As in :class:`ChurnClassifier`.

    Attributes
    ----------
    columns_ : tuple of str
        The columns used.
    center_, scale_ : numpy.ndarray
        Shape (k,): mean and std of the log1p columns (after filling NaN).
    fill_ : numpy.ndarray
        Shape (k,): training medians of the log1p columns, used for NaN.
    model_ : sklearn.linear_model.LogisticRegression
    calibrator_ : ScoreCalibrator or None
    """

    def __init__(
        self,
        *,
        columns: Sequence[str] | None = None,
        C: float = 1.0,
        calibration: Calibration = "auto",
    ) -> None:
        self.columns = columns
        self.C = C
        self.calibration = calibration

    def _pick_columns(self, X: pd.DataFrame) -> tuple[str, ...]:
        if self.columns is not None:
            return tuple(self.columns)
        for candidate in RFM_COLUMN_SETS:
            if all(c in X.columns for c in candidate):
                return candidate
        raise KizunaInputError(
            f"the RFM baseline needs one of the column sets {list(RFM_COLUMN_SETS)}; "
            f"the table has {list(map(str, X.columns))}. Pass columns= to choose others"
        )

    def fit(self, X: Any, y: Any, *, X_val: Any = None, y_val: Any = None) -> RFMLogisticBaseline:
        """Fit on ``X`` (n, p) and labels ``y`` (n,); calibrate on the later ``X_val``/``y_val``.

        Parameters
        ----------
        X
            Features, shape (n, p), with the RFM columns.
        y
            0/1 churn labels, shape (n,).
        X_val, y_val
            A later snapshot, shapes (m, p) and (m,), to calibrate on; both or neither.

        Returns
        -------
        RFMLogisticBaseline
            ``self``.
        """
        X = as_frame(X)
        y = check_binary_labels(y, n_rows=len(X), index=getattr(X, "index", None))
        if (X_val is None) != (y_val is None):
            raise KizunaInputError("give both X_val and y_val, or neither", column="X_val")
        self.columns_ = self._pick_columns(X)
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise KizunaInputError(
                f"the RFM baseline's columns are missing: {missing}", column=missing[0]
            )
        pre = TabularPreprocessor().fit(X.loc[:, list(self.columns_)])
        not_numeric = [c for c, k in pre.dtypes_.items() if k == "category"]
        if not_numeric:
            raise KizunaInputError(
                "RFM columns must be numbers",
                column=not_numeric[0],
                values=X[not_numeric[0]].dropna().unique(),
            )
        self.preprocessor_ = pre
        Xt = pre.transform(X)
        logs = _signed_log1p(Xt.to_numpy(dtype=float))
        self.fill_ = np.nan_to_num(np.nanmedian(logs, axis=0))
        logs = np.where(np.isnan(logs), self.fill_, logs)
        self.center_ = logs.mean(axis=0)
        scale = logs.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.model_ = LogisticRegression(C=self.C, max_iter=1000)
        self.model_.fit((logs - self.center_) / self.scale_, y)
        self.reference_ = reference_points(Xt.set_axis(list(pre.feature_names_in_), axis=1))
        score_val = y_val_arr = None
        if X_val is not None:
            X_val = as_frame(X_val)
            y_val_arr = check_binary_labels(
                y_val,
                n_rows=len(X_val),
                name="validation label",
                index=getattr(X_val, "index", None),
            )
            score_val = self._score(self.transform_matrix(X_val))
        self.calibrator_ = fit_calibrator(self.calibration, score_val, y_val_arr)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = pre.feature_names_in_
        self.n_features_in_ = pre.n_features_in_
        return self

    def transform_matrix(self, X: Any) -> np.ndarray:
        """The RFM columns of ``X`` (n, p) as floats, shape (n, k), before any scaling.

        Parameters
        ----------
        X
            Features, shape (n, p), with the RFM columns.

        Returns
        -------
        numpy.ndarray
            Shape (n, k), float64.
        """
        check_is_fitted(self, "model_")
        return self.preprocessor_.transform(as_frame(X)).to_numpy(dtype=float)

    def _standardised(self, M: np.ndarray) -> np.ndarray:
        logs = _signed_log1p(np.asarray(M, dtype=float))
        logs = np.where(np.isnan(logs), self.fill_, logs)
        return (logs - self.center_) / self.scale_

    def _score(self, M: np.ndarray) -> np.ndarray:
        return self.model_.decision_function(self._standardised(M))

    def predict_matrix(self, M: np.ndarray) -> np.ndarray:
        """Churn probability per row of :meth:`transform_matrix` output, shape (n,).

        Parameters
        ----------
        M
            Output of :meth:`transform_matrix`, shape (n, k).

        Returns
        -------
        numpy.ndarray
            Shape (n,), churn probabilities.
        """
        check_is_fitted(self, "model_")
        score = self._score(M)
        return expit(score) if self.calibrator_ is None else self.calibrator_.transform(score)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Churn probabilities, shape (n, 2): columns P(stay), P(churn).

        Parameters
        ----------
        X
            Features, shape (n, p), with the RFM columns.

        Returns
        -------
        numpy.ndarray
            Shape (n, 2): columns P(stay), P(churn).
        """
        return proba_2col(self.predict_matrix(self.transform_matrix(X)))

    def predict(self, X: Any) -> np.ndarray:
        """0/1 at probability 0.5, shape (n,).

        Parameters
        ----------
        X
            Features, shape (n, p), with the RFM columns.

        Returns
        -------
        numpy.ndarray
            Shape (n,), int 0/1.
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def reasons_matrix(self, M: np.ndarray, *, top_n: int = 3) -> list[list[dict[str, Any]]]:
        """Up to ``top_n`` reasons per row of ``M`` (n, k) that churn is likely.

        A feature's contribution is coefficient x standardised log value: how
        far it moves the log-odds from those of an average customer.

        Parameters
        ----------
        M
            Output of :meth:`transform_matrix`, shape (n, k).
        top_n
            Most reasons per row.

        Returns
        -------
        list of list of dict
            Per row, up to ``top_n`` reasons ``{"feature", "phrase", "contribution",
            "value"}``, largest contribution first.
        """
        check_is_fitted(self, "model_")
        M = np.asarray(M, dtype=float)
        return top_reasons(
            self._standardised(M) * self.model_.coef_[0],
            pd.DataFrame(M, columns=list(self.preprocessor_.feature_names_in_)),
            reference=self.reference_,
            top_n=top_n,
            sign=1,
        )

    def predict_with_reasons(
        self, X: Any, top_n: int = 3
    ) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Churn probability (n,) and up to ``top_n`` reasons per row (see :meth:`reasons_matrix`).

        Parameters
        ----------
        X
            Features, shape (n, p), with the RFM columns.
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
        M = self.transform_matrix(X)
        return self.predict_matrix(M), self.reasons_matrix(M, top_n=top_n)
