"""Gamma-Gamma model of spend per transaction, and discounted CLV.

Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013 note):
each transaction value is ``z ~ Gamma(p, nu)`` around a customer-specific
rate ``nu ~ Gamma(q, v)``, so a customer's mean spend is ``p / nu``.  The
model assumes spend is independent of purchase frequency; check that on
your data (the correlation of ``frequency`` and ``monetary_value`` among
repeat customers should be near 0) before combining it with BG/NBD.

Money unit: whatever ``monetary_value`` is in; ``v`` carries that unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln, psi

from kizuna.features.errors import KizunaInputError
from kizuna.features.schema import MONETARY_VALUE, REPEAT_PERIODS
from kizuna.models.bgnbd import BetaGeoModel, conditional_expectation
from kizuna.models.btyd_base import (
    BTYDModel,
    aggregate_rows,
)
from kizuna.models.btyd_inputs import (
    as_float_array,
    check_frequency,
    check_number,
    check_same_length,
    require_columns,
    validate_rfm,
)

PARAM_NAMES = ("p", "q", "v")


def _negative_log_likelihood(
    log_params: np.ndarray,
    x: np.ndarray,
    m: np.ndarray,
    weights: np.ndarray,
    penalizer_coef: float,
) -> tuple[float, np.ndarray]:
    """Penalised mean negative log-likelihood and its gradient in log-parameters.

    Parameters
    ----------
    log_params
        log of (p, q, v), shape (3,).
    x, m, weights
        Repeat frequency (> 0), mean repeat spend (> 0) and pattern counts,
        each shape (n_patterns,).
    penalizer_coef
        Weight of ``sum(params ** 2)`` added to the mean negative log-likelihood.

    Returns
    -------
    (objective, gradient of shape (3,))
    """
    p, q, v = np.exp(log_params)
    px = p * x
    log_x = np.log(x)
    log_m = np.log(m)
    log_total = np.log(x * m + v)
    # density of the mean m_x of x transactions (FH note, eq. 3)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * log_m
        + px * log_x
        - (px + q) * log_total
    )
    psi_pxq = psi(px + q)
    d_p = x * (psi_pxq - psi(px) + log_m + log_x - log_total)
    d_q = psi_pxq - psi(q) + np.log(v) - log_total
    d_v = q / v - (px + q) / (x * m + v)

    total = weights.sum()
    params = np.array([p, q, v])
    grads = np.array([weights @ d_p, weights @ d_q, weights @ d_v])
    objective = -(weights @ ll) / total + penalizer_coef * np.sum(params**2)
    gradient = params * (-grads / total + 2.0 * penalizer_coef * params)
    return float(objective), gradient


def _validate_spend(
    frequency: Any, monetary_value: Any, *, repeat_only: bool
) -> tuple[np.ndarray, np.ndarray]:
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    check_same_length(frequency=x, monetary_value=m)
    check_frequency(x)
    if repeat_only and (x == 0).any():
        raise KizunaInputError(
            f"is 0 for {int((x == 0).sum())} customers at positions; the Gamma-Gamma model is "
            "fitted on repeat customers only (frequency > 0): select them first",
            column="frequency",
            values=np.flatnonzero(x == 0),
        )
    bad = (x > 0) & (m <= 0)
    if bad.any():
        raise KizunaInputError(
            "must be > 0 for repeat customers (mean spend of repeat purchases)",
            column="monetary_value",
            values=m[bad],
        )
    return x, m


class GammaGammaModel(BTYDModel):
    """Gamma-Gamma estimator of a customer's expected spend per transaction.

    Parameters
    ----------
    penalizer_coef, tol, max_iter
        See :class:`models.btyd_base.BTYDModel`.

    Attributes
    ----------
    params_ : dict[str, float]
        ``p`` (shape of transaction values), ``q`` and ``v`` (shape and rate
        of the customers' Gamma rates).  Population mean spend: p*v/(q-1).
    log_likelihood_, n_iter_, converged_
        See :class:`models.btyd_base.BTYDModel`.
    """

    param_names = PARAM_NAMES

    def fit(self, frequency: Any, monetary_value: Any) -> GammaGammaModel:
        """Fit by maximum likelihood on repeat customers.

        Parameters
        ----------
        frequency
            Repeat purchases per customer, all > 0, shape (n_customers,).
        monetary_value
            Mean value of each customer's repeat purchases (the first purchase
            excluded), all > 0, shape (n_customers,).

        Returns
        -------
        self

        Raises
        ------
        KizunaInputError
            If any frequency is 0 (select repeat customers first, or use
            :meth:`fit_frame`) or any monetary value is <= 0.
        """
        x, m = _validate_spend(frequency, monetary_value, repeat_only=True)
        (ux, um), weights = aggregate_rows(x, m)
        # Deterministic and unit-free: p = 1, q = 2, v = mean spend make the
        # population mean p*v/(q-1) equal the observed mean spend.
        start = np.array([1.0, 2.0, float(np.mean(m))])
        self._optimise(_negative_log_likelihood, start, (ux, um), weights)
        return self

    def fit_frame(
        self,
        rfm: pd.DataFrame,
        *,
        frequency_col: str = REPEAT_PERIODS,
        monetary_col: str = MONETARY_VALUE,
    ) -> GammaGammaModel:
        """Fit on an RFM summary frame, using only its rows with frequency > 0.

        One-time buyers carry no repeat-spend information, and summaries
        (e.g. ``features.rfm.rfm_summary``) keep them with monetary value 0.

        Parameters
        ----------
        rfm
            The RFM summary, shape (n_customers, k).
        frequency_col, monetary_col
            Its repeat-purchase and mean repeat spend columns.

        Returns
        -------
        GammaGammaModel
            ``self``.
        """
        require_columns(rfm, (frequency_col, monetary_col))
        repeat = rfm[frequency_col].to_numpy(dtype=float, na_value=np.nan) > 0
        return self.fit(rfm.loc[repeat, frequency_col], rfm.loc[repeat, monetary_col])

    def conditional_expected_average_profit(
        self, frequency: Any, monetary_value: Any
    ) -> np.ndarray:
        """E[spend per transaction | x repeat purchases with mean spend m_x].

        A credibility-weighted mix of the population mean ``p*v/(q-1)`` and
        the customer's own mean: weight ``p*x / (p*x + q - 1)`` on ``m_x``.
        Customers with frequency 0 get the population mean.

        Parameters
        ----------
        frequency, monetary_value
            Shape (n_customers,); monetary_value is ignored where frequency == 0.

        Returns
        -------
        ndarray, shape (n_customers,), in the money unit of ``monetary_value``
        """
        self.check_is_fitted()
        p, q, v = self.param_array()
        if q <= 1.0:
            raise KizunaInputError(
                "fitted q <= 1: the population mean spend p*v/(q-1) is infinite",
                column="q",
                values=[q],
            )
        x, m = _validate_spend(frequency, monetary_value, repeat_only=False)
        own_weight = p * x / (p * x + q - 1.0)
        return (1.0 - own_weight) * (p * v / (q - 1.0)) + own_weight * np.where(x > 0, m, 0.0)

    def customer_lifetime_value(
        self,
        bgnbd: BetaGeoModel,
        frequency: Any,
        recency: Any,
        T: Any,
        monetary_value: Any,
        horizon_periods: int = 12,
        discount_rate: float = 0.01,
        *,
        period_length: float = 1.0,
    ) -> np.ndarray:
        """Discounted CLV with this model's expected spend; see :func:`customer_lifetime_value`.

        Parameters
        ----------
        bgnbd, frequency, recency, T, monetary_value, horizon_periods, discount_rate, period_length
            As in :func:`customer_lifetime_value` (each array shape (n_customers,)).

        Returns
        -------
        numpy.ndarray
            Shape (n_customers,), in the money unit of ``monetary_value``.
        """
        return customer_lifetime_value(
            bgnbd,
            frequency,
            recency,
            T,
            monetary_value,
            horizon_periods,
            discount_rate,
            period_length=period_length,
            gamma_gamma=self,
        )


def customer_lifetime_value(
    bgnbd: BetaGeoModel,
    frequency: Any,
    recency: Any,
    T: Any,
    monetary_value: Any,
    horizon_periods: int = 12,
    discount_rate: float = 0.01,
    *,
    period_length: float = 1.0,
    gamma_gamma: GammaGammaModel | None = None,
) -> np.ndarray:
    """Discounted expected value of each customer's purchases over a horizon.

    lifetimes' approach: split the horizon into ``horizon_periods`` periods
    of ``period_length``; in period k the customer is expected to make
    ``E[Y(k L)] - E[Y((k-1) L)]`` purchases (BG/NBD, conditional on history),
    each worth ``value``; that amount is discounted by ``(1 + d) ** k``::

        CLV = sum_{k=1..K} value * (E[Y(k L)] - E[Y((k-1) L)]) / (1 + d) ** k

    Units: ``period_length`` is in the BG/NBD time unit (the unit of
    ``recency`` and ``T``), ``discount_rate`` is per period, and the result is
    in the money unit of ``monetary_value``.  E.g. a BG/NBD fitted in weeks,
    monthly discounting at 1 % for a year: ``horizon_periods=12,
    discount_rate=0.01, period_length=52/12`` (lifetimes uses 4.345).

    Parameters
    ----------
    bgnbd
        A fitted :class:`models.bgnbd.BetaGeoModel`.
    frequency, recency, T
        Customer summaries, shape (n_customers,).
    monetary_value
        Shape (n_customers,).  With ``gamma_gamma`` it is the observed mean
        repeat spend and is shrunk by
        :meth:`GammaGammaModel.conditional_expected_average_profit`; without,
        it is used as is, as the expected value per purchase.
    horizon_periods
        Number of periods K >= 1.
    discount_rate
        Discount rate per period, d >= 0.
    period_length
        Length of one period in the BG/NBD time unit, > 0.
    gamma_gamma
        Optional fitted :class:`GammaGammaModel`.

    Returns
    -------
    ndarray, shape (n_customers,)
    """
    bgnbd.check_is_fitted()
    check_number("horizon_periods", horizon_periods, minimum=1.0, integer=True)
    check_number("discount_rate", discount_rate, minimum=0.0)
    check_number("period_length", period_length, minimum=0.0, strict=True)
    x, t_x, big_t = validate_rfm(frequency, recency, T)
    if gamma_gamma is None:
        value = as_float_array(monetary_value, "monetary_value")
        check_same_length(frequency=x, monetary_value=value)
    else:
        value = gamma_gamma.conditional_expected_average_profit(x, monetary_value)

    steps = np.arange(int(horizon_periods) + 1, dtype=float)
    # (n_customers, K + 1) cumulative expectations, differenced per period
    cumulative = conditional_expectation(
        bgnbd.param_array(),
        steps[None, :] * period_length,
        x[:, None],
        t_x[:, None],
        big_t[:, None],
    )
    per_period = np.diff(cumulative, axis=1)
    discount = (1.0 + discount_rate) ** -steps[1:]
    return value * (per_period @ discount)
