"""Buy-till-you-die RFM summary: repeat periods (lifetimes' frequency), recency, T, monetary value.

The summary is the input of BG/NBD, Pareto/NBD and Gamma-Gamma models and of
RFM scoring (:mod:`features.rfm_scoring`). It follows the convention of
lifetimes' ``summary_data_from_transaction_data`` and pymc-marketing's
``pymc_marketing.clv.utils.rfm_summary`` value for value, computed with
NumPy on integer period numbers rather than with pandas periods and groupby
(the array kernels: :mod:`features.rfm_kernels`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp
from kizuna.features.errors import KizunaInputError
from kizuna.features.periods import TIME_UNITS, first_tick_at_or_after, period_numbers, time_ticks
from kizuna.features.rfm_kernels import SUMMARY_COLUMNS, summarise

__all__ = ["SUMMARY_COLUMNS", "rfm_summary"]


def rfm_summary(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    time_unit: str = "D",
    time_scaler: float = 1.0,
    customer_col: str = s.CUSTOMER_ID,
    timestamp_col: str = s.TIMESTAMP,
    monetary_col: str | None = s.REVENUE,
    return_col: str | None = s.IS_RETURN,
) -> pd.DataFrame:
    """Summarise each customer's purchases before ``as_of`` for BTYD models.

    Purchases in the same period (``time_unit``) are merged into one, their
    values summed. Then, per customer, with periods numbered in ``time_unit``:

    - ``repeat_periods`` (lifetimes' ``frequency``) = number of distinct purchase periods - 1 (repeat periods);
    - ``recency`` = last purchase period - first purchase period;
    - ``T`` = observation period - first purchase period;
    - ``monetary_value`` = mean value of the repeat periods (the first period
      excluded), 0 when ``repeat_periods`` is 0.

    ``recency`` and ``T`` are divided by ``time_scaler`` (days with
    ``time_scaler=7`` become weeks); ``repeat_periods`` stays a count.

    Only rows with timestamp strictly before ``as_of`` are used, and the
    observation period is the period holding the last instant before
    ``as_of``. So with ``as_of`` at the start of a period this equals
    lifetimes / pymc-marketing with ``observation_period_end`` set to the
    period before ``as_of``; for example::

        rfm_summary(df, as_of="1997-10-01", time_unit="D", time_scaler=7)
        # == lifetimes.utils.summary_data_from_transaction_data(
        #        df, "customer_id", "timestamp", monetary_value_col="revenue",
        #        observation_period_end="1997-09-30", freq="D", freq_multiplier=7)
        # == pymc_marketing.clv.utils.rfm_summary(
        #        df, "customer_id", "timestamp", monetary_value_col="revenue",
        #        observation_period_end="1997-09-30", time_unit="D", time_scaler=7
        #    ).set_index("customer_id")

    Frequency, recency and T are identical; so is monetary_value unless a
    period holds three or more rows, whose sum may then differ from theirs
    in the last bit (about 1e-16 relative) as they add rows in (timestamp,
    value) order and kizuna in input order (on CDNOW: 4 of 23,570 customers
    at 1997-10-01). With
    ``as_of`` inside a period, it equals them run on the rows before
    ``as_of`` with ``observation_period_end = as_of - 1 tick``: the last
    period counts as observed although it is only partly so.

    Parameters
    ----------
    transactions
        Shape (n_rows, n_columns), with ``customer_col``, ``timestamp_col``
        (tz-naive datetime64, no missing values) and, unless None,
        ``monetary_col`` (numeric). Typically the ``kept`` frame of
        :func:`features.validate.validate_transactions`.
    as_of
        Exclusive cutoff; rows at or after it are ignored whatever they hold.
    time_unit
        Period length: ``"W"`` (Monday to Sunday, as pandas' ``"W"``),
        ``"D"``, ``"h"``, ``"min"`` or ``"s"``.
    time_scaler
        Positive divisor of ``recency`` and ``T`` (lifetimes'
        ``freq_multiplier``, pymc-marketing's ``time_scaler``).
    customer_col, timestamp_col
        Column names.
    monetary_col
        Value column; None leaves out ``monetary_value``.
    return_col
        If this column is present, rows where it is True (returns and
        cancellations) are left out: the summary counts purchases. None
        keeps every row.

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, 4) float64, columns ``repeat_periods``, ``recency``,
        ``T``, ``monetary_value`` (3 without ``monetary_col``), indexed by
        customer id (sorted) named ``customer_col``; one row per customer
        with at least one purchase before ``as_of``.
    """
    _check_arguments(
        transactions,
        time_unit,
        time_scaler,
        [customer_col, timestamp_col] + ([monetary_col] if monetary_col else []),
    )
    cutoff = as_of_timestamp(as_of)
    ticks, tick_unit = time_ticks(transactions[timestamp_col], timestamp_col)
    limit = first_tick_at_or_after(cutoff, tick_unit)
    used = ticks < limit
    if return_col is not None and return_col in transactions.columns:
        used &= ~transactions[return_col].fillna(False).to_numpy(dtype=bool)

    # Factorizing every row once and filtering integer codes is cheaper than
    # taking the string ids of the used rows first.
    codes, uniques = pd.factorize(transactions[customer_col], sort=True)
    every_row = bool(used.all())  # the usual case: no copies needed
    if not every_row:
        codes, ticks = codes[used], ticks[used]
    if (codes < 0).any():
        raise KizunaInputError(
            "customer id is missing in some rows (index labels shown)",
            column=customer_col,
            values=transactions.index[used][codes < 0],
        )
    value = None
    if monetary_col:
        value = _numeric(transactions[monetary_col], monetary_col)
        value = value if every_row else value[used]
        if not np.isfinite(value).all():
            raise KizunaInputError(
                "monetary value is missing or infinite in some rows (index labels shown)",
                column=monetary_col,
                values=transactions.index[used][~np.isfinite(value)],
            )
    # Drop customers whose only rows are at/after as_of, keeping sorted order.
    present = np.zeros(len(uniques), dtype=bool)
    present[codes] = True
    if not present.all():
        codes = (np.cumsum(present) - 1)[codes]
        uniques = uniques[present]
    index = pd.Index(uniques, name=customer_col)

    period = period_numbers(ticks, tick_unit, time_unit)
    observed = period_numbers(np.array([limit - 1]), tick_unit, time_unit)[0]
    out = summarise(codes, period, observed, len(index), time_scaler, value)
    return pd.DataFrame(out, index=index)


def _check_arguments(
    transactions: pd.DataFrame, time_unit: str, time_scaler: float, needed: list[str]
) -> None:
    if not isinstance(transactions, pd.DataFrame):
        raise KizunaInputError(
            f"transactions must be a pandas DataFrame, got {type(transactions).__name__}"
        )
    if time_unit not in TIME_UNITS:
        raise KizunaInputError(
            f"time_unit must be one of {list(TIME_UNITS)}",
            column="time_unit",
            values=[time_unit],
        )
    if (
        isinstance(time_scaler, bool)
        or not isinstance(time_scaler, (int, float, np.number))
        or not np.isfinite(time_scaler)
        or time_scaler <= 0
    ):
        raise KizunaInputError(
            "time_scaler must be a positive number", column="time_scaler", values=[time_scaler]
        )
    missing = [c for c in needed if c not in transactions.columns]
    if missing:
        raise KizunaInputError(
            f"transactions lack column(s) {missing}; they have "
            f"{list(map(str, transactions.columns))}",
            column=missing[0],
        )


def _numeric(values: pd.Series, column: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise KizunaInputError(
            f"monetary values must be numeric, got {values.dtype}",
            column=column,
            values=values.head(3),
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)
