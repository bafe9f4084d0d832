"""A value forecast read from one feature column: the servable LTV baselines.

:class:`ColumnForecast` is the BG/NBD x Gamma-Gamma expectation, or last period's
revenue, as a regressor with the contract of :mod:`models.ltv` (``fit``, ``predict``,
``predict_with_reasons``), so a bundle can hold it in place of the tuned model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.column_kinds import to_float
from kizuna.models.preprocessing import as_frame


class ColumnForecast(RegressorMixin, BaseEstimator):
    """A forecast that is one feature column (missing as 0): a servable LTV baseline.

    Parameters
    ----------
    column
        The feature column holding the forecast, e.g. ``btyd_expected_value``.

    Attributes
    ----------
    feature_names_in_ : numpy.ndarray of str
        ``[column]``.
    """

    def __init__(self, column: str = "btyd_expected_value") -> None:
        self.column = column

    def fit(self, X: Any, y: Any = None, **_: Any) -> ColumnForecast:
        """Check that ``X`` holds the column, as numbers; nothing is learned.

        Parameters
        ----------
        X
            Features, shape (n_customers, n_features), with the forecast column.
        y
            Ignored: the forecast is the column itself.

        Returns
        -------
        ColumnForecast
            ``self``.

        Raises
        ------
        KizunaInputError
            Naming the column, when it is missing or holds values that are no numbers.
        """
        X = as_frame(X)
        if self.column not in X.columns:
            raise KizunaInputError(
                f"the forecast column is missing; have {list(map(str, X.columns))}",
                column=self.column,
            )
        to_float(X[self.column], self.column, "numeric")
        self.feature_names_in_ = np.array([self.column], dtype=object)
        self.n_features_in_ = 1
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The column, missing as 0, shape (n,).

        Parameters
        ----------
        X
            Features, shape (n, p), with the forecast column.

        Returns
        -------
        numpy.ndarray
            Shape (n,), float64.
        """
        check_is_fitted(self, "feature_names_in_")
        X = as_frame(X)
        if self.column not in X.columns:
            raise KizunaInputError("the forecast column is missing", column=self.column)
        # Text that is no number is refused: coerced, it would be forecast as 0.
        return np.nan_to_num(to_float(X[self.column], self.column, "numeric"), nan=0.0)

    def predict_with_reasons(
        self, X: Any, top_n: int = 3
    ) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """The forecast (n,) and, per row, the one column it comes from.

        Parameters
        ----------
        X
            Features, shape (n, p), with the forecast column.
        top_n
            Most reasons per row (there is one).

        Returns
        -------
        score : numpy.ndarray
            Shape (n,): the forecast.
        reasons : list of list of dict
            Per row, the one reason (the column) ``{"feature", "phrase", "contribution",
            "value"}``, largest contribution first.
        """
        value = self.predict(X)
        reasons = [
            [
                {
                    "feature": self.column,
                    "phrase": f"forecast from {self.column}",
                    "contribution": float(v),
                    "value": float(v),
                }
            ][:top_n]
            for v in value
        ]
        return value, reasons
