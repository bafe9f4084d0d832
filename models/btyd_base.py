"""Shared contract for the buy-till-you-die (BTYD) estimators.

Every BTYD model here is fitted by maximum likelihood on per-customer summary
arrays (see :mod:`features.schema`: ``repeat_periods``, ``recency``, ``T``,
``monetary_value``).  This module holds what they share:

* :class:`BTYDModel`, the abstract base: ``fit`` / ``params_`` /
  ``log_likelihood_`` / ``n_iter_`` / ``check_is_fitted``;
* input validation that raises :class:`features.errors.KizunaInputError`
  naming the offending argument (:mod:`models.btyd_inputs`);
* the optimiser driver: L-BFGS-B in log-parameter space with an analytic
  gradient, on rows aggregated into unique patterns with weights.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from threadpoolctl import threadpool_limits

from kizuna.models.btyd_inputs import check_number

# (log_params, *data_columns, weights, penalizer_coef) -> (objective, gradient)
Objective = Callable[..., tuple[float, np.ndarray]]


class BTYDModel(BaseEstimator, ABC):
    """Abstract base of the BTYD estimators (scikit-learn conventions).

    A :class:`sklearn.base.BaseEstimator`, so ``get_params``, ``set_params``,
    ``clone`` and the repr work as for any scikit-learn estimator.

    ``__init__`` only stores hyper-parameters; ``fit`` validates the inputs,
    estimates the parameters by maximum likelihood and returns ``self``.

    Parameters
    ----------
    penalizer_coef
        L2 penalty on the natural-scale parameters, added to the *mean*
        negative log-likelihood (lifetimes' convention), so its effect does
        not grow with the number of customers.  0 gives the plain MLE.
    tol
        Convergence tolerance of L-BFGS-B (both ``ftol`` and ``gtol``).
    max_iter
        Maximum number of L-BFGS-B iterations.

    Attributes
    ----------
    params_ : dict[str, float]
        Fitted parameters, keyed by :attr:`param_names`.
    log_likelihood_ : float
        Total (summed over customers) log-likelihood at ``params_``,
        without the penalty.
    n_iter_ : int
        Number of optimiser iterations.
    converged_ : bool
        Whether the optimiser reported success.
    """

    param_names: tuple[str, ...] = ()

    def __init__(
        self, penalizer_coef: float = 0.0, tol: float = 1e-10, max_iter: int = 500
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter

    @abstractmethod
    def fit(self, *arrays: Any) -> BTYDModel:
        """Estimate the parameters from per-customer summary arrays.

        Parameters
        ----------
        *arrays
            Per-customer summaries, each shape (n_customers,).

        Returns
        -------
        BTYDModel
            ``self``.
        """

    # -- shared machinery ------------------------------------------------------

    def check_is_fitted(self) -> None:
        """Raise :class:`sklearn.exceptions.NotFittedError` before ``fit``."""
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit() first."
            )

    def param_array(self) -> np.ndarray:
        """The fitted parameters as an array, in :attr:`param_names` order.

        Returns
        -------
        ndarray, shape (n_params,)

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        """
        self.check_is_fitted()
        return np.array([self.params_[name] for name in self.param_names], dtype=float)

    def _check_hyperparameters(self) -> None:
        check_number("penalizer_coef", self.penalizer_coef, minimum=0.0)
        check_number("tol", self.tol, minimum=0.0, strict=True)
        check_number("max_iter", self.max_iter, minimum=1.0, integer=True)

    def _optimise(
        self,
        objective: Objective,
        start: np.ndarray,
        columns: Sequence[np.ndarray],
        weights: np.ndarray,
    ) -> None:
        """Minimise ``objective`` over log-parameters and store the results.

        ``objective(log_params, *columns, weights, penalizer_coef)`` returns
        the penalised mean negative log-likelihood and its gradient with
        respect to the log-parameters.
        """
        self._check_hyperparameters()
        args = (*columns, weights, float(self.penalizer_coef))
        # One BLAS thread: the problem is tiny (4 parameters, a few thousand
        # patterns), and threaded BLAS calls inside L-BFGS-B cost more than
        # they save, erratically so on a busy machine (5x spread measured).
        with threadpool_limits(limits=1, user_api="blas"):
            result = minimize(
                objective,
                np.log(start),
                args=args,
                jac=True,
                method="L-BFGS-B",
                # Bounds in log space keep exp() finite while the line search
                # explores; the optimum of any sane dataset is far inside them.
                bounds=[(-30.0, 30.0)] * len(start),
                options={"ftol": self.tol, "gtol": self.tol, "maxiter": int(self.max_iter)},
            )
        params = np.exp(result.x)
        self.params_ = {
            name: float(value) for name, value in zip(self.param_names, params, strict=True)
        }
        unpenalised, _ = objective(result.x, *columns, weights, 0.0)
        self.log_likelihood_ = float(-unpenalised * weights.sum())
        self.n_iter_ = int(result.nit)
        self.converged_ = bool(result.success)
        if not result.success:
            warnings.warn(
                f"{type(self).__name__} did not converge: {result.message}",
                ConvergenceWarning,
                stacklevel=3,
            )


def aggregate_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Collapse identical rows into unique patterns with counts as weights.

    Summary data repeat a lot (CDNOW master: 23,570 customers but a few
    thousand distinct (frequency, recency, T)), and the likelihood only
    depends on the pattern, so fitting on the patterns is exact and fast.

    Parameters
    ----------
    *columns
        Per-customer values, each shape (n_customers,).

    Returns
    -------
    (unique columns, each shape (n_patterns,); weights, shape (n_patterns,))
    """
    # Code each column separately and combine the codes into one int64 key:
    # np.unique(axis=0) sorts rows as opaque bytes and is ~20x slower.
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        values, codes = np.unique(column, return_inverse=True)
        key = key * len(values) + codes
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return [column[first] for column in columns], counts.astype(float)
