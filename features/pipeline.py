"""The customer feature frame: behaviour vector, BTYD summary, RFM scores and segment.

One row per customer with a purchase before ``as_of``; everything is built
from events strictly before ``as_of`` (the parts each guard that themselves).
"""

from __future__ import annotations

import warnings

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp, data_covers
from kizuna.features.behaviour import behaviour_vector
from kizuna.features.errors import KizunaInputError
from kizuna.features.labels import churn_labels, future_value
from kizuna.features.rfm import rfm_summary
from kizuna.features.rfm_scoring import RFMScorer
from kizuna.features.segments import rfm_segments

BTYD_PREFIX = "btyd_"
TIME_SCALERS = {"D": 1.0, "W": 7.0}


def btyd_columns() -> list[str]:
    """Names of the BTYD summary columns in the feature frame.

    Returns
    -------
    list of str
    """
    return [BTYD_PREFIX + c for c in (s.REPEAT_PERIODS, s.RECENCY, s.T, s.MONETARY_VALUE)]


def customer_features(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    customers: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    btyd_unit: str = "W",
) -> pd.DataFrame:
    """Build every per-customer feature as of ``as_of``.

    Parameters
    ----------
    transactions
        Validated transactions (``ValidatedTransactions.kept``), shape (n_rows, k).
    as_of
        Exclusive cutoff: only events strictly before it are used.
    customers, items
        Optional validated tables (indexed by id) for attributes and categories.
    btyd_unit
        ``"W"`` or ``"D"``: the unit of the BTYD summary (days, divided by 7
        for weeks, with same-day purchases merged: the Fader-Hardie convention).

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, n_features), indexed by customer id (sorted):
        the behaviour vector, ``btyd_repeat_periods``/``btyd_recency``/``btyd_T``/
        ``btyd_monetary_value``, ``r_score``/``f_score``/``m_score``/
        ``rfm_score`` (recency in days, frequency in orders, monetary as total
        spend) and ``segment``.
    """
    frame = customer_base_features(
        transactions, as_of, customers=customers, items=items, btyd_unit=btyd_unit
    )
    if frame.empty:  # no population to learn the RFM quintiles from
        stamps = transactions[s.TIMESTAMP]
        data = (
            f"the transactions span {stamps.min()} to {stamps.max()}"
            if len(stamps)
            else "no transactions"
        )
        raise KizunaInputError(
            f"no customer has a purchase before as_of {pd.Timestamp(as_of)}: {data}",
            column="as_of",
        )
    return with_rfm_scores(frame)


def customer_base_features(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    customers: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    btyd_unit: str = "W",
) -> pd.DataFrame:
    """The per-customer part of :func:`customer_features`: behaviour vector and BTYD summary.

    Each row depends on that customer's transactions only, so any partition of
    the customers (a shard) gives the same rows. Same arguments as
    :func:`customer_features`; shape (n_customers, n_features - 5).

    Parameters
    ----------
    transactions
        Validated transactions (``ValidatedTransactions.kept``), shape (n_rows, k).
    as_of
        Exclusive cutoff: only events strictly before it are used.
    customers, items
        Optional validated tables (indexed by id) for attributes and categories.
    btyd_unit
        ``"W"`` or ``"D"``: the unit of the BTYD summary.

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, n_features - 5), indexed by customer id (sorted).
    """
    as_of = as_of_timestamp(as_of)
    behaviour = behaviour_vector(transactions, as_of, customers=customers, items=items)
    purchases = transactions[~transactions[s.IS_RETURN]]
    summary = rfm_summary(
        purchases, as_of, time_unit="D", time_scaler=TIME_SCALERS[btyd_unit]
    ).add_prefix(BTYD_PREFIX)
    return behaviour.join(summary, how="left")


def with_rfm_scores(frame: pd.DataFrame, scorer: RFMScorer | None = None) -> pd.DataFrame:
    """Join the RFM scores and segment onto :func:`customer_base_features` output.

    ``scorer``: a fitted :func:`behaviour_rfm_scorer` whose cut points come from
    the whole population, when ``frame`` is one shard of it; None fits one on
    ``frame`` itself.

    Parameters
    ----------
    frame
        Output of :func:`customer_base_features`, shape (n_customers, n_features - 5).
    scorer
        A fitted :func:`behaviour_rfm_scorer` or None (see above).

    Returns
    -------
    pandas.DataFrame
        ``frame`` with ``r_score``, ``f_score``, ``m_score``, ``rfm_score`` and
        ``segment``, shape (n_customers, n_features).
    """
    if scorer is None:
        scorer = behaviour_rfm_scorer().fit(frame)
    scores = scorer.score(frame)
    out = frame.join(scores, how="left")
    out[s.SEGMENT] = rfm_segments(scores)
    return out


def rfm_score_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The values the quintile scores rank, higher = better, shape (n_customers, 3).

    Columns ``r_score``, ``f_score``, ``m_score`` (the keys of
    ``RFMScorer.cuts_``): minus days since the last purchase, orders, total
    spend. Their population cut points fit a scorer for every shard.

    Parameters
    ----------
    frame
        Output of :func:`customer_base_features`, shape (n_customers, n_features - 5).

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, 3), indexed like ``frame``.
    """
    scorer = behaviour_rfm_scorer()
    return pd.DataFrame(
        {
            s.R_SCORE: -frame[scorer.recency_col].to_numpy(dtype=float),
            s.F_SCORE: frame[scorer.frequency_col].to_numpy(dtype=float),
            s.M_SCORE: frame[scorer.monetary_col].to_numpy(dtype=float),
        },
        index=frame.index,
    )


def behaviour_rfm_scorer() -> RFMScorer:
    """The (unfitted) RFM scorer of the feature frame: days since the last
    purchase, orders and total spend, as :func:`customer_features` scores them.

    Fit it on the population's feature frame once (at training) and score
    changed customers' rows with it later.

    Returns
    -------
    RFMScorer
        Unfitted.
    """
    return RFMScorer(
        recency_col=s.RECENCY_DAYS,
        t_col=None,
        frequency_col=s.FREQUENCY,
        monetary_col=s.MONETARY_TOTAL,
    )


def customer_labels(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    horizon_days: int,
    lookback_days: int = 365,
    data_end: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Churn and future value over ``[as_of, as_of + horizon)`` for the active population.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, k).
    as_of
        Start of the label window; the lookback ends just before it.
    horizon_days
        Length of the label window in days.
    lookback_days
        A customer counts as active with a purchase in this many days before ``as_of``.
    data_end
        The last purchase of the whole log. ``None``: the last timestamp in
        ``transactions``. Give it when ``transactions`` were cut at the label
        window's end or are one shard of the log, whose own last line says
        nothing about where the data ends.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id: ``churn`` (1 = no purchase in the window) and
        ``future_value`` (net revenue in the window), for customers with a
        purchase in the ``lookback_days`` before ``as_of``.

    Warns
    -----
    UserWarning
        When the label window ends more than a day after ``data_end`` (the
        rule of ``kizuna features --horizon``, which refuses such a window):
        nobody can be seen buying after the data ends, so everyone active then
        looks churned and future values are too low.
    """
    churn = churn_labels(transactions, as_of, horizon_days, lookback_days)
    _warn_if_window_passes_data(transactions, as_of, horizon_days, data_end)
    churn = churn.set_index(s.CUSTOMER_ID)[[s.CHURN]]
    value = future_value(transactions, as_of, horizon_days, customers=churn.index)
    return churn.join(value)


def _warn_if_window_passes_data(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    horizon_days: float,
    data_end: pd.Timestamp | str | None,
) -> None:
    if data_end is None:
        if transactions.empty:
            return
        last = pd.Timestamp(transactions[s.TIMESTAMP].max())
    else:
        last = as_of_timestamp(data_end, name="data_end")
    window_end = as_of_timestamp(as_of) + pd.Timedelta(days=horizon_days)
    if not data_covers(last, window_end):
        warnings.warn(
            f"the label window [as_of {as_of_timestamp(as_of)}, +{horizon_days} days) ends "
            f"{window_end}, after the data ends ({last}): no purchase can be seen "
            "after it, so customers look churned and future values low; choose an earlier "
            "as_of or a shorter horizon_days",
            UserWarning,
            stacklevel=3,
        )
