"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee, 2005).

While alive, a customer buys as a Poisson process with rate
``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate ``alpha``); after each repeat
purchase they drop out for good with probability ``p ~ Beta(a, b)``.

Time unit: whatever ``recency`` and ``T`` are measured in (days, weeks...).
``alpha`` is a rate in that unit, and every ``t`` passed to the predictions
is in that unit too.  The CDNOW reference numbers use weeks.

The expectations (FHL eqs. 9 and 10) divide by ``a - 1``: they are
undefined at exactly ``a == 1`` (a fitted value never lands there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, expit, gammaln, hyp2f1, psi

from kizuna.features.schema import RECENCY, REPEAT_PERIODS
from kizuna.features.schema import T as T_COL
from kizuna.models.btyd_base import (
    BTYDModel,
    aggregate_rows,
)
from kizuna.models.btyd_inputs import (
    require_columns,
    validate_rfm,
    validate_time,
)

PARAM_NAMES = ("r", "alpha", "a", "b")


def _negative_log_likelihood(
    log_params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    penalizer_coef: float,
) -> tuple[float, np.ndarray]:
    """Penalised mean negative log-likelihood and its gradient in log-parameters.

    Parameters
    ----------
    log_params
        log of (r, alpha, a, b), shape (4,).
    x, t_x, T, weights
        Frequency, recency, T and pattern counts, each shape (n_patterns,).
    penalizer_coef
        Weight of ``sum(params ** 2)`` added to the mean negative log-likelihood.

    Returns
    -------
    (objective, gradient of shape (4,))
    """
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    log_alpha_T = np.log(alpha + T)
    log_alpha_tx = np.log(alpha + t_x)
    # FHL eq. (6): L = exp(A1 + A2) * (exp(A3) + [x > 0] * exp(A4)), summed in
    # log space; one-time buyers have no A4 term (its log is -inf).
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * log_alpha_T
    b_x1 = b + np.maximum(x, 1.0) - 1.0
    a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * log_alpha_tx, -np.inf)
    log_mix = np.logaddexp(a3, a4)
    ll = a1 + a2 + log_mix

    # Share of the likelihood from the "dropped out right after the last
    # purchase" branch; the gradient mixes the two branches with it.
    share = np.where(repeat, expit(a4 - a3), 0.0)
    keep = 1.0 - share
    d_r = psi(r + x) - psi(r) + np.log(alpha) - keep * log_alpha_T - share * log_alpha_tx
    d_alpha = r / alpha - (r + x) * (keep / (alpha + T) + share / (alpha + t_x))
    psi_ab = psi(a + b)
    psi_abx = psi(a + b + x)
    d_a = psi_ab - psi_abx + share / a
    d_b = psi_ab - psi_abx + psi(b + x) - psi(b) - share / b_x1

    total = weights.sum()
    params = np.array([r, alpha, a, b])
    grads = np.array([weights @ d_r, weights @ d_alpha, weights @ d_a, weights @ d_b])
    objective = -(weights @ ll) / total + penalizer_coef * np.sum(params**2)
    # chain rule to log-parameters: d/dlog(theta) = theta * d/dtheta
    gradient = params * (-grads / total + 2.0 * penalizer_coef * params)
    return float(objective), gradient


def _log_mixture_ratio(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x), -inf where x == 0."""
    r, alpha, a, b = params
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = (
            np.log(a)
            - np.log(b + np.maximum(x, 1.0) - 1.0)
            + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(x > 0, log_ratio, -np.inf)


def conditional_expectation(
    params: np.ndarray, t: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """FHL eq. (10), broadcast over all arguments.

    ``((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z)`` is rewritten
    with Euler's transformation as ``(1-z)^(a-1) * 2F1(a+b-1-r, a-1; a+b+x-1; z)``
    (z = t/(alpha+T+t)): the same value, but the series no longer has
    parameters growing with x, so heavy buyers do not overflow it.

    Parameters
    ----------
    params
        ``(r, alpha, a, b)``, as :meth:`BetaGeoModel.param_array` gives them.
    t
        Length of the future window, in the unit the model was fit in.
    x, t_x, T
        Repeat purchases, time of the last one and age of each customer.

    Returns
    -------
    ndarray
        Expected purchases in the window, broadcast shape of the arguments.
    """
    r, alpha, a, b = params
    c = a + b + x - 1.0
    one_minus_z = (alpha + T) / (alpha + T + t)
    z = t / (alpha + T + t)
    tail = one_minus_z ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    numerator = c / (a - 1.0) * (1.0 - tail)
    alive = expit(-_log_mixture_ratio(params, x, t_x, T))
    out = numerator * alive
    # Dropout only removes purchases: the value lies in [0, the no-dropout Gamma-Poisson
    # expectation]. Outside it (NaN included) the series has failed, as it does when the
    # fit finds next to no dropout (a -> 0, r and alpha huge); there the no-dropout
    # value is the limit the exact one tends to.
    upper = alive * (r + x) / (alpha + T) * t
    ok = np.isfinite(out) & (out >= 0) & (out <= upper * (1 + 1e-9))
    return np.where(ok, out, upper)


class BetaGeoModel(BTYDModel):
    """BG/NBD estimator: who is still alive, and how much will they buy.

    Parameters
    ----------
    penalizer_coef, tol, max_iter
        See :class:`models.btyd_base.BTYDModel`.

    Attributes
    ----------
    params_ : dict[str, float]
        ``r``, ``alpha`` (purchase-rate heterogeneity, Gamma shape and rate)
        and ``a``, ``b`` (dropout heterogeneity, Beta).
    log_likelihood_, n_iter_, converged_
        See :class:`models.btyd_base.BTYDModel`.

    Examples
    --------
    >>> model = BetaGeoModel().fit(rfm["repeat_periods"], rfm["recency"], rfm["T"])  # doctest: +SKIP
    >>> model.probability_alive(rfm["repeat_periods"], rfm["recency"], rfm["T"])  # doctest: +SKIP
    """

    param_names = PARAM_NAMES

    def fit(self, frequency: Any, recency: Any, T: Any) -> BetaGeoModel:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency
            Repeat purchases per customer (whole numbers), shape (n_customers,).
        recency
            Time from first to last purchase, shape (n_customers,); 0 when
            ``frequency == 0``.
        T
            Time from first purchase to the end of the observation period,
            shape (n_customers,), same unit as ``recency``.

        Returns
        -------
        self
        """
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        (ux, utx, uT), weights = aggregate_rows(x, t_x, big_t)
        self._optimise(_negative_log_likelihood, self._start(x, big_t), (ux, utx, uT), weights)
        return self

    def fit_frame(
        self,
        rfm: pd.DataFrame,
        *,
        frequency_col: str = REPEAT_PERIODS,
        recency_col: str = RECENCY,
        T_col: str = T_COL,
    ) -> BetaGeoModel:
        """Fit on an RFM summary frame (one row per customer).

        Parameters
        ----------
        rfm
            The RFM summary, one row per customer, shape (n_customers, k).
        frequency_col, recency_col, T_col
            Its repeat-purchase, recency and age columns.

        Returns
        -------
        BetaGeoModel
            ``self``.
        """
        require_columns(rfm, (frequency_col, recency_col, T_col))
        return self.fit(rfm[frequency_col], rfm[recency_col], rfm[T_col])

    @staticmethod
    def _start(x: np.ndarray, T: np.ndarray) -> np.ndarray:
        # Deterministic and unit-free: with r = 1 the mean rate r/alpha
        # matches the observed repeat rate, so alpha scales with the time unit.
        rate = max(x.mean(), 0.1) / max(T.mean(), 1e-12)
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

    # -- predictions ----------------------------------------------------------

    def expected_purchases(self, t: Any) -> np.ndarray:
        """Expected repeat purchases E[X(t)] of a new customer in (0, t], FHL eq. (9).

        Parameters
        ----------
        t
            Time(s) since the first purchase, scalar or array, in the fit's unit.

        Returns
        -------
        ndarray, shape of ``t``
        """
        params = self.param_array()
        time = validate_time(t)
        zero = np.zeros_like(time)
        return conditional_expectation(params, time, zero, zero, zero)

    def conditional_expected_purchases(
        self, t: Any, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` given the history, FHL eq. (10).

        Parameters
        ----------
        t
            Horizon after the end of the observation period, scalar or array
            broadcastable to (n_customers,), in the fit's unit.
        frequency, recency, T
            Customer summaries, shape (n_customers,).

        Returns
        -------
        ndarray, shape (n_customers,) (or the broadcast shape of ``t``)
        """
        params = self.param_array()
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        return conditional_expectation(params, validate_time(t), x, t_x, big_t)

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(still alive at T | history), FHL eq. (13); exactly 1 when frequency == 0.

        Parameters
        ----------
        frequency, recency, T
            Customer summaries, shape (n_customers,).

        Returns
        -------
        ndarray, shape (n_customers,), values in (0, 1]
        """
        params = self.param_array()
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        return expit(-_log_mixture_ratio(params, x, t_x, big_t))
