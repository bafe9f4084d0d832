"""Prediction intervals for a value forecast, from residuals on a held-out split.

Mondrian (binned) split-conformal style: customers of the validation split
are grouped by predicted value into quantile bins; a bin's interval is the
empirical ``lower``/``upper`` quantiles of the actual values of its members.
A new customer gets the interval of the bin their prediction falls in. The
coverage on a later holdout shows whether the band is honest.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.btyd_inputs import as_float_array, check_number


class BinnedQuantileInterval(BaseEstimator):
    """Per-bin empirical quantiles of the actual value, binned by the prediction.

    Parameters
    ----------
    lower, upper
        Quantile levels of the band, e.g. 0.1 and 0.9 (P10-P90).
    n_bins
        Number of prediction-quantile bins (fewer when predictions tie).

    Attributes
    ----------
    edges_ : numpy.ndarray
        Shape (n_bins - 1,): inner bin edges on the prediction.
    low_, high_ : numpy.ndarray
        Shape (n_bins,): the band of each bin.
    """

    def __init__(self, lower: float = 0.1, upper: float = 0.9, n_bins: int = 10) -> None:
        self.lower = lower
        self.upper = upper
        self.n_bins = n_bins

    def fit(self, predicted: np.ndarray, actual: np.ndarray) -> BinnedQuantileInterval:
        """Learn bands from held-out predictions (m,) and actual values (m,).

        Parameters
        ----------
        predicted
            Held-out predictions, shape (m,).
        actual
            The actual values of the same rows, shape (m,).

        Returns
        -------
        BinnedQuantileInterval
            ``self``.
        """
        check_number("lower", self.lower, minimum=0.0, maximum=1.0)
        check_number("upper", self.upper, minimum=float(self.lower), strict=True, maximum=1.0)
        check_number("n_bins", self.n_bins, minimum=1.0, integer=True)
        predicted = as_float_array(predicted, "predicted")
        actual = as_float_array(actual, "actual")
        if predicted.shape != actual.shape or len(predicted) < self.n_bins:
            raise KizunaInputError(
                f"need matching arrays of at least {self.n_bins} rows", column="predicted"
            )
        inner = np.quantile(predicted, np.linspace(0, 1, self.n_bins + 1)[1:-1])
        self.edges_ = np.unique(inner)
        bins = np.searchsorted(self.edges_, predicted, side="right")
        n = len(self.edges_) + 1
        self.low_, self.high_ = np.empty(n), np.empty(n)
        filled = np.flatnonzero(np.bincount(bins, minlength=n))
        for b in range(n):
            # A bin is empty only with heavy ties (say 10% of predictions at the minimum,
            # an edge itself): it borrows the band of the nearest bin with members.
            nearest = filled[np.argmin(np.abs(filled - b))]
            members = actual[bins == nearest]
            self.low_[b], self.high_[b] = np.quantile(members, [self.lower, self.upper])
        return self

    def predict(self, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds, each of shape (n,), for predictions (n,).

        Parameters
        ----------
        predicted
            Predictions, shape (n,).

        Returns
        -------
        low, high : numpy.ndarray
            Each shape (n,).
        """
        check_is_fitted(self, "edges_")
        bins = np.searchsorted(self.edges_, np.asarray(predicted, dtype=float), side="right")
        return self.low_[bins], self.high_[bins]


def coverage(low: np.ndarray, high: np.ndarray, actual: np.ndarray) -> float:
    """Share of rows whose actual value lies in ``[low, high]`` (all shape (n,)).

    Parameters
    ----------
    low, high
        Bounds, each shape (n,).
    actual
        Actual values, shape (n,).

    Returns
    -------
    float
        In [0, 1].
    """
    actual = np.asarray(actual, dtype=float)
    return float(np.mean((actual >= low) & (actual <= high)))
