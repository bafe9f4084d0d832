"""Lifetime value: a LightGBM regressor of revenue over the coming horizon.

Inputs are the behaviour vector, plus the buy-till-you-die outputs
(P(alive), expected purchases, expected spend) when the pipeline adds them
as columns; nothing here depends on which columns are present.

Horizon revenue is zero-inflated: most customers buy nothing in the horizon,
the rest spend a skewed amount. A Tweedie objective with variance power
between 1 and 2 is a compound Poisson-gamma distribution, which has exactly
that shape (a point mass at zero plus a continuous positive part), and its
log link keeps predictions positive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError
from kizuna.models.label_checks import check_target
from kizuna.models.preprocessing import as_frame
from kizuna.models.tabular import BoostedTabularModel

Objective = Literal["tweedie", "poisson", "regression", "huber"]
# Objectives whose likelihood is defined only for non-negative targets (log link).
_NON_NEGATIVE = ("tweedie", "poisson")


class LTVRegressor(RegressorMixin, BoostedTabularModel):
    """LightGBM regressor of horizon revenue; predictions are never negative.

    Parameters
    ----------
    objective
        ``"tweedie"`` (default, zero-inflated spend), ``"poisson"``,
        ``"regression"`` (squared error) or ``"huber"``.
    tweedie_variance_power
        In (1, 2): closer to 1 means more mass at zero, closer to 2 a more
        gamma-like positive part.
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample,
    colsample_bytree, reg_lambda, early_stopping_rounds, drop, categorical,
    datetimes, max_categories, random_state, n_jobs, num_threads, reason_phrases
        As in :class:`models.churn.ChurnClassifier`.
    base_value_col
        A feature column holding a prior model's expected revenue (e.g. the
        BG/NBD x Gamma-Gamma ``btyd_expected_value``). Boosting then starts
        from its log (floored at 1% of the mean target) and learns
        corrections, so the model begins where the prior model ends.
    recalibrate_total
        With a validation split, scale every prediction by one factor so that
        the predicted total on the validation rows equals the actual total
        (``total_scale_``). A model fit on older snapshots inherits their
        spending level; the later validation snapshot corrects that drift
        without changing the ranking.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        Best-iteration booster. For tweedie/poisson, ``booster_.predict(X)``
        already returns revenue (the inverse link is applied).
    preprocessor_ : TabularPreprocessor
    n_clipped_ : int
        Training targets below zero (returns exceeding purchases in the
        horizon) set to zero for tweedie/poisson, which cannot fit negative
        values. Silent by design: the pipeline logs it.
    base_floor_ : float or None
        Floor under the base value before its log; None without ``base_value_col``.
    total_scale_ : float
        Factor applied to every prediction (1.0 without recalibration).
    """

    def __init__(
        self,
        *,
        objective: Objective = "tweedie",
        tweedie_variance_power: float = 1.3,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        early_stopping_rounds: int | None = 50,
        drop: Sequence[str] = (),
        categorical: Sequence[str] = (),
        datetimes: Literal["days", "drop"] = "days",
        max_categories: int | None = 200,
        random_state: int = 0,
        n_jobs: int | None = None,
        num_threads: int = 1,
        reason_phrases: Mapping[str, Sequence[str]] | None = None,
        base_value_col: str | None = None,
        recalibrate_total: bool = True,
    ) -> None:
        self.objective = objective
        self.tweedie_variance_power = tweedie_variance_power
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.drop = drop
        self.categorical = categorical
        self.datetimes = datetimes
        self.max_categories = max_categories
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.num_threads = num_threads
        self.reason_phrases = reason_phrases
        self.base_value_col = base_value_col
        self.recalibrate_total = recalibrate_total

    def _objective_params(self) -> dict[str, Any]:
        if self.objective == "tweedie":
            if not 1.0 < self.tweedie_variance_power < 2.0:
                raise KizunaInputError(
                    "tweedie_variance_power must be between 1 and 2 (exclusive), got "
                    f"{self.tweedie_variance_power}",
                    column="tweedie_variance_power",
                )
            return {"objective": "tweedie", "tweedie_variance_power": self.tweedie_variance_power}
        if self.objective in ("poisson", "regression", "huber"):
            return {"objective": self.objective}
        raise KizunaInputError(
            f"objective must be one of tweedie, poisson, regression, huber; got {self.objective!r}",
            column="objective",
        )

    def _clip_target(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        # Net horizon revenue dips below zero when a customer returns goods bought
        # earlier. That is normal data, not an error, so no warning: the count is
        # kept in n_clipped_ for the pipeline to log.
        if self.objective not in _NON_NEGATIVE:
            return y, 0
        return np.maximum(y, 0.0), int((y < 0).sum())

    def fit(self, X: Any, y: Any, *, X_val: Any = None, y_val: Any = None) -> LTVRegressor:
        """Fit on ``X`` (n, p) and horizon revenue ``y`` (n,).

        ``X_val``, ``y_val`` (a later snapshot) drive early stopping when given.

        Parameters
        ----------
        X
            Features, shape (n, p).
        y
            Horizon revenue, shape (n,).
        X_val, y_val
            A later snapshot, shapes (m, p) and (m,); both or neither.

        Returns
        -------
        LTVRegressor
            ``self``.
        """
        params = self._lgb_params(**self._objective_params())
        X = as_frame(X)
        y_arr, self.n_clipped_ = self._clip_target(
            check_target(y, n_rows=len(X), index=getattr(X, "index", None))
        )
        self.base_floor_ = None
        if self.base_value_col is not None:
            if self.objective not in _NON_NEGATIVE:
                raise KizunaInputError(
                    "base_value_col needs a log-link objective (tweedie or poisson)",
                    column="base_value_col",
                )
            if self.base_value_col not in X.columns:
                raise KizunaInputError(
                    "the base value column is not among the features", column=self.base_value_col
                )
            # A customer the prior model writes off still gets a small margin to grow from.
            self.base_floor_ = max(0.01 * float(np.mean(y_arr)), 1e-6)
        if (X_val is None) != (y_val is None):
            raise KizunaInputError("give both X_val and y_val, or neither", column="X_val")
        y_val_arr = None
        if X_val is not None:
            X_val = as_frame(X_val)
            y_val_arr, _ = self._clip_target(
                check_target(
                    y_val, n_rows=len(X_val), name="validation target", index=X_val.index
                )  # fmt: skip
            )
        self._fit_booster(
            X,
            y_arr,
            X_val,
            y_val_arr,
            params,
            init_score=None if self.base_floor_ is None else self._base_margin,
        )
        self.total_scale_ = 1.0
        if self.recalibrate_total and X_val is not None:
            predicted = float(self.predict_matrix(self.transform_matrix(X_val)).sum())
            actual = float(np.sum(check_target(y_val, n_rows=len(X_val), name="validation target")))
            if predicted > 0 and actual > 0:
                self.total_scale_ = actual / predicted
        return self

    def _base_margin(self, M: np.ndarray) -> np.ndarray | float:
        """Log of the prior model's value per row (0 without one), shape (n,)."""
        if getattr(self, "base_floor_", None) is None:
            return 0.0
        column = list(self.preprocessor_.feature_names_in_).index(self.base_value_col)
        base = np.nan_to_num(M[:, column], nan=0.0)
        return np.log(np.maximum(base, self.base_floor_))

    def predict_matrix(self, M: np.ndarray) -> np.ndarray:
        """Expected horizon revenue per row of :meth:`transform_matrix` output, shape (n,), >= 0.

        Parameters
        ----------
        M
            Output of :meth:`transform_matrix`, shape (n, p).

        Returns
        -------
        numpy.ndarray
            Shape (n,), >= 0.
        """
        check_is_fitted(self, "booster_")
        return getattr(self, "total_scale_", 1.0) * self._unscaled_value(M)

    def _unscaled_value(self, M: np.ndarray) -> np.ndarray:
        if getattr(self, "base_floor_", None) is not None:
            raw = self.booster_.predict(M, raw_score=True, num_threads=self.num_threads)
            return np.exp(np.asarray(raw, dtype=float) + self._base_margin(M))
        pred = np.asarray(self.booster_.predict(M, num_threads=self.num_threads), dtype=float)
        # Log-link objectives are positive already; the others can dip below zero.
        return np.maximum(pred, 0.0)

    def predict(self, X: Any) -> np.ndarray:
        """Expected horizon revenue, shape (n,), >= 0.

        Parameters
        ----------
        X
            Features, shape (n, p), with the columns seen at fit.

        Returns
        -------
        numpy.ndarray
            Shape (n,), >= 0.
        """
        return self.predict_matrix(self.transform_matrix(X))
