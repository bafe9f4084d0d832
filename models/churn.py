"""Churn classifiers: LightGBM with calibrated probabilities and reason codes.

The RFM baseline it must beat is in :mod:`models.churn_baseline`.

Both follow one contract (see tests/models/classifier_contract.py):
``fit(X, y, *, X_val=None, y_val=None)``, ``predict_proba(X) -> (n, 2)``,
``predict(X) -> (n,)`` and ``predict_with_reasons(X, top_n) -> (proba, reasons)``.

``X`` is any feature table: the behaviour vector of a non-contractual business
(labels from purchase inactivity, see ``features``) or a contractual customer
table with attribute columns of any type; :class:`models.tabular.TabularPreprocessor`
makes either LightGBM-ready, so no dataset needs code of its own.

Calibration uses the validation split, which the pipeline takes from a
*later* snapshot than the training rows: the churn base rate drifts between
snapshots, and a calibrator fitted on later data corrects that drift, which
calibrating on a random split of the training snapshot cannot.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.preprocessing import as_frame
from kizuna.models.tabular import BoostedTabularModel, check_binary_labels

Calibration = Literal["auto", "isotonic", "sigmoid"] | None

# Isotonic regression is step-wise and overfits small sets; sklearn's own advice
# is to prefer the sigmoid below about a thousand calibration rows.
_ISOTONIC_MIN_ROWS = 1000
# Isotonic steps can reach exactly 0 or 1, which no finite sample supports and
# which makes log loss infinite; keep probabilities off the bounds.
_PROBA_EPS = 1e-4


class ScoreCalibrator:
    """Monotone map from raw scores (log-odds) to probabilities, fitted on held-out rows.

    Parameters
    ----------
    method
        ``"isotonic"``, ``"sigmoid"`` (Platt scaling) or ``"auto"`` (isotonic
        from 1,000 rows with at least 50 of each class, sigmoid below).
    """

    def __init__(self, method: Literal["auto", "isotonic", "sigmoid"] = "auto") -> None:
        if method not in ("auto", "isotonic", "sigmoid"):
            raise KizunaInputError(
                f"calibration must be 'auto', 'isotonic', 'sigmoid' or None, got {method!r}",
                column="calibration",
            )
        self.method = method

    def fit(self, score: np.ndarray, y: np.ndarray) -> ScoreCalibrator:
        """Fit on raw scores of shape (m,) and 0/1 labels of shape (m,)."""
        score = np.asarray(score, dtype=float)
        method = self.method
        if method == "auto":
            enough = len(y) >= _ISOTONIC_MIN_ROWS and min(y.sum(), len(y) - y.sum()) >= 50
            method = "isotonic" if enough else "sigmoid"
        if method == "isotonic":
            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.model_.fit(score, y)
        else:
            # Unpenalised: Platt scaling has two parameters and needs no shrinkage.
            self.model_ = LogisticRegression(C=np.inf).fit(score.reshape(-1, 1), y)
        self.method_ = method
        return self

    def transform(self, score: np.ndarray) -> np.ndarray:
        """Probabilities of shape (n,) for raw scores of shape (n,)."""
        score = np.asarray(score, dtype=float)
        if self.method_ == "isotonic":
            proba = self.model_.predict(score)
        else:
            proba = self.model_.predict_proba(score.reshape(-1, 1))[:, 1]
        return np.clip(proba, _PROBA_EPS, 1 - _PROBA_EPS)


def calibrate(
    calibration: Calibration, score_val: np.ndarray | None, y_val: np.ndarray | None
) -> ScoreCalibrator | None:
    if calibration is None:
        return None
    if score_val is None or y_val is None:
        warnings.warn(
            "no validation split given: probabilities are left uncalibrated "
            "(pass X_val/y_val from a later snapshot, or calibration=None to silence this)",
            UserWarning,
            stacklevel=3,
        )
        ScoreCalibrator(calibration)  # still reject a misspelt method
        return None
    return ScoreCalibrator(calibration).fit(score_val, y_val)


def proba_2col(p: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - p, p])


class ChurnClassifier(ClassifierMixin, BoostedTabularModel):
    """LightGBM churn classifier with time-split calibration and reason codes.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample,
    colsample_bytree, reg_lambda
        LightGBM settings (``subsample`` < 1 turns on bagging every iteration).
    early_stopping_rounds
        Stop boosting when validation log loss has not improved for this many
        rounds (only with a validation split); ``None`` never stops early.
    calibration
        ``"auto"`` (isotonic from 1,000 validation rows, sigmoid below),
        ``"isotonic"``, ``"sigmoid"`` or ``None`` (LightGBM's own probabilities).
        Fitted on the validation split; without one, a warning and none.
    drop, categorical, datetimes, max_categories
        Passed to :class:`models.tabular.TabularPreprocessor`.
    random_state
        Seed of LightGBM (bagging, feature sampling).
    n_jobs
        Training threads; ``None`` lets LightGBM use all cores.
    num_threads
        Prediction threads. One by default: for a single serving request,
        starting threads costs more than the prediction.
    reason_phrases
        Extra phrases for reason codes, tried before the defaults:
        ``{pattern: [high, low]}`` (see :func:`models.reasons.phrase_table`).

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The trained booster (best iteration only), for direct serving calls.
    preprocessor_ : TabularPreprocessor
        Turns a feature table into the booster's input.
    calibrator_ : ScoreCalibrator or None
        Maps ``booster_`` raw scores to probabilities.
    classes_ : numpy.ndarray
        ``[0, 1]``; 1 = churned.
    reference_ : dict
        ``(median, mean)`` per numeric feature at training, for reason phrasing.

    Notes
    -----
    Early stopping and calibration share the validation split. Choosing one
    number (the iteration count) on it biases the calibration slightly; a
    separate split would cost the calibrator half its rows, which matters more.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        early_stopping_rounds: int | None = 50,
        calibration: Calibration = "auto",
        drop: Sequence[str] = (),
        categorical: Sequence[str] = (),
        datetimes: Literal["days", "drop"] = "days",
        max_categories: int | None = 200,
        random_state: int = 0,
        n_jobs: int | None = None,
        num_threads: int = 1,
        reason_phrases: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration = calibration
        self.drop = drop
        self.categorical = categorical
        self.datetimes = datetimes
        self.max_categories = max_categories
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.num_threads = num_threads
        self.reason_phrases = reason_phrases

    def fit(self, X: Any, y: Any, *, X_val: Any = None, y_val: Any = None) -> ChurnClassifier:
        """Fit on ``X`` (n, p) and 0/1 labels ``y`` (n,); calibrate on ``X_val``, ``y_val``.

        ``X_val`` must come from a later snapshot than ``X`` (see module docstring).
        """
        X = as_frame(X)
        y = check_binary_labels(y, n_rows=len(X))
        if (X_val is None) != (y_val is None):
            raise KizunaInputError("give both X_val and y_val, or neither", column="X_val")
        y_val_arr = None
        if X_val is not None:
            X_val = as_frame(X_val)
            y_val_arr = check_binary_labels(y_val, n_rows=len(X_val), name="validation label")
        params = self._lgb_params(objective="binary", metric="binary_logloss")
        _, Xv = self._fit_booster(X, y, X_val, y_val_arr, params)
        score_val = None if Xv is None else self._raw_score(Xv)
        self.calibrator_ = calibrate(self.calibration, score_val, y_val_arr)
        self.classes_ = np.array([0, 1])
        return self

    def predict_matrix(self, M: np.ndarray) -> np.ndarray:
        """Calibrated churn probability per row of :meth:`transform_matrix` output, shape (n,)."""
        check_is_fitted(self, "booster_")
        score = self._raw_score(M)
        return expit(score) if self.calibrator_ is None else self.calibrator_.transform(score)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated churn probabilities, shape (n, 2): columns P(stay), P(churn)."""
        return proba_2col(self.predict_matrix(self.transform_matrix(X)))

    def predict(self, X: Any) -> np.ndarray:
        """0/1 at probability 0.5, shape (n,). Campaigns rank by probability instead."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
