"""Probability calibration that keeps the ranking, chosen on validation by log loss.

Every method here is a strictly increasing map of the raw score, so ROC-AUC
and PR-AUC of calibrated probabilities equal those of the raw scores (ties in
the raw score stay ties; no new ties are made):

* ``"none"``: the booster's own probability, ``expit(score)``.
* ``"sigmoid"``: Platt scaling, ``expit(a * score + b)`` with ``a > 0`` (a
  fit with ``a <= 0`` is not order-preserving and falls back to ``"none"``).
* ``"isotonic"``: isotonic regression, with ties between its steps broken by
  the raw score: ``(1 - d) * iso(score) + d * expit(score)``, ``d = 1e-4``.
  Plain isotonic regression maps whole score ranges to one value (a test set
  collapsed to a few dozen distinct probabilities), which costs ranking.
* ``"auto"``: whichever of the three has the lowest cross-validated log
  loss on the calibration rows (5 stratified folds).

Probabilities are squeezed linearly into ``[1e-4, 1 - 1e-4]`` (not clipped,
which would make ties) so that log loss stays finite.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.btyd_inputs import as_float_array, check_same_length

Method = Literal["auto", "isotonic", "sigmoid", "none"]
Calibration = Method | None
METHODS = ("none", "sigmoid", "isotonic")
_EPS = 1e-4
_TIE_BREAK = 1e-4
_FOLDS = 5


def check_method(method: object, name: str = "calibration") -> None:
    """Raise a :class:`KizunaInputError` unless ``method`` is a calibration method.

    Parameters
    ----------
    method
        The ``calibration`` setting.
    name
        The setting named in the error (``method`` on :class:`ScoreCalibrator`).
    """
    if method not in ("auto", *METHODS):
        raise KizunaInputError(
            f"{name} must be 'auto', 'isotonic', 'sigmoid', 'none' or None, got {method!r}",
            column=name,
        )


def _squeeze(p: np.ndarray) -> np.ndarray:
    return _EPS + (1.0 - 2.0 * _EPS) * p


class ScoreCalibrator(BaseEstimator):
    """Strictly increasing map from raw scores (log-odds) to probabilities.

    Parameters
    ----------
    method
        ``"auto"``, ``"isotonic"``, ``"sigmoid"`` or ``"none"`` (see module docstring).

    Attributes
    ----------
    method_ : str
        The method fitted (``"auto"`` resolved).
    cv_log_loss_ : dict of str -> float
        With ``"auto"``: the cross-validated log loss of each method.
    """

    def __init__(self, method: Method = "auto") -> None:
        self.method = method

    def fit(self, score: np.ndarray, y: np.ndarray) -> ScoreCalibrator:
        """Fit on raw scores of shape (m,) and 0/1 labels of shape (m,).

        Parameters
        ----------
        score
            Raw scores, shape (m,).
        y
            0/1 labels, shape (m,).

        Returns
        -------
        ScoreCalibrator
            ``self``.
        """
        check_method(self.method, "method")
        score = as_float_array(score, "score")
        labels = np.asarray(y).ravel()
        check_same_length(score=score, y=labels)
        not_binary = ~np.isin(labels, [0, 1])
        if not_binary.any():
            raise KizunaInputError("must hold 0/1 labels", column="y", values=labels[not_binary])
        y = labels.astype(int)
        method = self.method
        self.cv_log_loss_: dict[str, float] = {}
        if method == "auto":
            self.cv_log_loss_ = _cv_log_loss(score, y)
            method = min(self.cv_log_loss_, key=self.cv_log_loss_.get)
        self._fit_method(method, score, y)
        return self

    def _fit_method(self, method: str, score: np.ndarray, y: np.ndarray) -> None:
        self.iso_ = self.platt_ = None
        if method == "sigmoid" and len(np.unique(y)) == 2:
            # Unpenalised: Platt scaling has two parameters and needs no shrinkage.
            platt = LogisticRegression(C=np.inf).fit(score.reshape(-1, 1), y)
            if platt.coef_[0, 0] > 0:
                self.platt_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
            else:
                method = "none"
        elif method == "sigmoid":
            method = "none"
        if method == "isotonic":
            self.iso_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.iso_.fit(score, y)
        self.method_ = method

    def transform(self, score: np.ndarray) -> np.ndarray:
        """Probabilities of shape (n,) for raw scores of shape (n,); same order as ``score``.

        Parameters
        ----------
        score
            Raw scores, shape (n,).

        Returns
        -------
        numpy.ndarray
            Shape (n,), probabilities in (0, 1).
        """
        check_is_fitted(self, "method_")
        score = np.asarray(score, dtype=float)
        if self.method_ == "sigmoid":
            a, b = self.platt_
            return _squeeze(expit(a * score + b))
        raw = expit(score)
        if self.method_ == "isotonic":
            raw = (1.0 - _TIE_BREAK) * self.iso_.predict(score) + _TIE_BREAK * raw
        return _squeeze(raw)


def _cv_log_loss(score: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Out-of-fold log loss of each method on (score, y), shape (m,) each."""
    counts = np.bincount(y, minlength=2)
    if counts.min() < _FOLDS:
        # Too few of one class to cross-validate: Platt's two parameters are the safe choice.
        return {"sigmoid": 0.0}
    folds = StratifiedKFold(_FOLDS, shuffle=True, random_state=0).split(score, y)
    predicted = {m: np.empty(len(y)) for m in METHODS}
    for fit_rows, test_rows in folds:
        for method in METHODS:
            calibrator = ScoreCalibrator(method)
            calibrator._fit_method(method, score[fit_rows], y[fit_rows])
            predicted[method][test_rows] = calibrator.transform(score[test_rows])
    return {m: float(log_loss(y, p, labels=[0, 1])) for m, p in predicted.items()}


def fit_calibrator(
    calibration: Calibration, score_val: np.ndarray | None, y_val: np.ndarray | None
) -> ScoreCalibrator | None:
    """A calibrator fitted on validation scores (m,) and labels (m,), or None.

    ``calibration=None`` means none; without validation rows, a warning and none.

    Parameters
    ----------
    calibration
        The method (``"auto"``, ``"isotonic"``, ``"sigmoid"``, ``"none"``) or None.
    score_val
        Raw validation scores, shape (m,), or None.
    y_val
        0/1 validation labels, shape (m,), or None.

    Returns
    -------
    ScoreCalibrator or None
        Fitted; None without calibration or without validation rows.
    """
    if calibration is None:
        return None
    check_method(calibration)  # a misspelt method, with or without validation rows
    if score_val is None or y_val is None:
        warnings.warn(
            "no validation split given: probabilities are left uncalibrated "
            "(pass X_val/y_val from a later snapshot, or calibration=None to silence this)",
            UserWarning,
            stacklevel=3,
        )
        return None
    return ScoreCalibrator(calibration).fit(score_val, y_val)
