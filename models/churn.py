"""Churn classifiers: LightGBM with calibrated probabilities and reason codes.

The RFM baseline it must beat is in :mod:`models.churn_baseline`.

Both follow one contract (see tests/models/classifier_contract.py):
``fit(X, y, *, X_val=None, y_val=None)``, ``predict_proba(X) -> (n, 2)``,
``predict(X) -> (n,)`` and ``predict_with_reasons(X, top_n) -> (proba, reasons)``.

``X`` is any feature table: the behaviour vector of a non-contractual business
(labels from purchase inactivity, see ``features``) or a contractual customer
table with attribute columns of any type; :class:`models.preprocessing.TabularPreprocessor`
makes either LightGBM-ready, so no dataset needs code of its own.

Calibration uses the validation split, which the pipeline takes from a
*later* snapshot than the training rows: the churn base rate drifts between
snapshots, and a calibrator fitted on later data corrects that drift, which
calibrating on a random split of the training snapshot cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.calibration import Calibration, fit_calibrator
from kizuna.models.label_checks import check_binary_labels
from kizuna.models.preprocessing import as_frame
from kizuna.models.tabular import BoostedTabularModel


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
        ``"auto"`` (the order-preserving method with the lowest cross-validated
        log loss on the validation split), ``"isotonic"``, ``"sigmoid"``,
        ``"none"`` or ``None`` (LightGBM's own probabilities); see
        :mod:`models.calibration`. Without a validation split, a warning and none.
    drop, categorical, datetimes, max_categories
        Passed to :class:`models.preprocessing.TabularPreprocessor`.
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

        Parameters
        ----------
        X
            Features, shape (n, p).
        y
            0/1 churn labels, shape (n,).
        X_val, y_val
            A later snapshot, shapes (m, p) and (m,), for early stopping and calibration;
            both or neither.

        Returns
        -------
        ChurnClassifier
            ``self``.
        """
        X = as_frame(X)
        y = check_binary_labels(y, n_rows=len(X), index=getattr(X, "index", None))
        if (X_val is None) != (y_val is None):
            raise KizunaInputError("give both X_val and y_val, or neither", column="X_val")
        y_val_arr = None
        if X_val is not None:
            X_val = as_frame(X_val)
            y_val_arr = check_binary_labels(
                y_val,
                n_rows=len(X_val),
                name="validation label",
                index=getattr(X_val, "index", None),
            )
        params = self._lgb_params(objective="binary", metric="binary_logloss")
        _, Xv = self._fit_booster(X, y, X_val, y_val_arr, params)
        score_val = None if Xv is None else self._raw_score(Xv)
        self.calibrator_ = fit_calibrator(self.calibration, score_val, y_val_arr)
        self.classes_ = np.array([0, 1])
        return self

    def predict_matrix(self, M: np.ndarray) -> np.ndarray:
        """Calibrated churn probability per row of :meth:`transform_matrix` output, shape (n,).

        Parameters
        ----------
        M
            Output of :meth:`transform_matrix`, shape (n, p).

        Returns
        -------
        numpy.ndarray
            Shape (n,), churn probabilities.
        """
        check_is_fitted(self, "booster_")
        score = self._raw_score(M)
        return expit(score) if self.calibrator_ is None else self.calibrator_.transform(score)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated churn probabilities, shape (n, 2): columns P(stay), P(churn).

        Parameters
        ----------
        X
            Features, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n, 2): columns P(stay), P(churn).
        """
        return proba_2col(self.predict_matrix(self.transform_matrix(X)))

    def predict(self, X: Any) -> np.ndarray:
        """0/1 at probability 0.5, shape (n,). Campaigns rank by probability instead.

        Parameters
        ----------
        X
            Features, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n,), int 0/1.
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
