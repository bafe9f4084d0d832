"""Labels for churn and value models, and stacking of several snapshots.

Time convention: features see ``timestamp < as_of``; labels see the *label
window* ``[as_of, as_of + horizon_days)``. The two are complementary half-open
intervals, so every event belongs to exactly one side and an event exactly at
``as_of`` is future, never a feature. (``features.schema`` describes the window
as ``(as_of, as_of + horizon]``; with an exclusive ``as_of`` for features, the
half-open window is the consistent choice and the one implemented here.)

Only purchases (``is_return == False``) make a customer active; returns count
in :func:`future_value` (net revenue) but never as activity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp
from kizuna.features.columnar import (
    DAY_NS,
    bool_values,
    numeric_values,
    require_transaction_columns,
    timestamps_ns,
)
from kizuna.features.contract import ids_to_str
from kizuna.features.customer_attributes import keyed_table
from kizuna.features.errors import KizunaInputError
from kizuna.features.id_codes import factorize_ids, id_positions


def churn_labels(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    horizon_days: float,
    lookback_days: float | None = 365,
    *,
    customer_col: str = s.CUSTOMER_ID,
    timestamp_col: str = s.TIMESTAMP,
    is_return_col: str = s.IS_RETURN,
) -> pd.DataFrame:
    """Non-contractual churn: did an active customer stop buying?

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, n_columns).
    as_of
        Snapshot instant; the population is read before it, the label from it on.
    horizon_days
        Length of the label window ``[as_of, as_of + horizon_days)``.
    lookback_days
        The population is every customer with a purchase in ``[as_of -
        lookback_days, as_of)``; ``None`` means any purchase before ``as_of``.
    customer_col, timestamp_col, is_return_col
        Column names (the canonical ones by default).

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, 3): ``customer_col``, ``as_of``, ``churn`` (int8:
        1 = no purchase in the label window), sorted by customer id.
    """
    as_of_ts = as_of_timestamp(as_of)
    horizon = _positive_days(horizon_days, "horizon_days")
    require_transaction_columns(transactions, (customer_col, timestamp_col, is_return_col))
    ts = timestamps_ns(transactions[timestamp_col], column=timestamp_col)
    buy = ~bool_values(transactions[is_return_col], column=is_return_col)
    start = np.iinfo(np.int64).min if lookback_days is None else (
        as_of_ts.value - _positive_days(lookback_days, "lookback_days"))  # fmt: skip
    in_pop = buy & (ts >= start) & (ts < as_of_ts.value)
    in_window = buy & (ts >= as_of_ts.value) & (ts < as_of_ts.value + horizon)
    ids = transactions[customer_col].array
    _, population = factorize_ids(ids[in_pop], column=customer_col, sort=True)
    active = population.isin(pd.unique(ids[in_window]))
    return pd.DataFrame(
        {
            customer_col: population.to_numpy(),
            s.AS_OF: np.full(len(population), as_of_ts.to_datetime64()),
            s.CHURN: (~active).astype(np.int8),
        }
    )


def contractual_churn_labels(
    customers: pd.DataFrame,
    label_col: str = s.CHURN_LABEL,
    *,
    customer_col: str = s.CUSTOMER_ID,
) -> pd.DataFrame:
    """Churn labels given by a contractual business (who cancelled).

    Parameters
    ----------
    customers
        Customers table with ids (column or index ``customer_col``) and
        ``label_col`` holding booleans or the numbers 0 / 1, no missing values.
    label_col
        The label column.
    customer_col
        The customer id column (or the index's name).

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, 2): ``customer_col`` and ``churn`` (int8), sorted
        by customer id.
    """
    table = keyed_table(customers, customer_col, table="customers")
    if label_col not in table.columns:
        raise KizunaInputError("the customers table has no churn label column", column=label_col)
    values = table[label_col]
    if pd.api.types.is_bool_dtype(values.dtype) and not values.hasnans:
        labels = values.to_numpy(dtype=bool).astype(np.int8)
    elif pd.api.types.is_numeric_dtype(values.dtype):  # bool dtypes took the branch above
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isin(numbers, (0.0, 1.0))
        if bad.any():
            raise KizunaInputError("churn labels must be 0 or 1 (or booleans), with none missing",
                                   column=label_col, values=values[bad].unique())  # fmt: skip
        labels = numbers.astype(np.int8)
    else:
        bad = values.isna() | ~values.isin([True, False, 0, 1])
        raise KizunaInputError(
            f"churn labels must be 0 or 1 (or booleans), with none missing; got {values.dtype}",
            column=label_col, values=values[bad].unique() if bad.any() else values.head(3),
        )  # fmt: skip
    out = pd.DataFrame({customer_col: table.index.to_numpy(), s.CHURN: labels})
    return out.sort_values(customer_col, ignore_index=True)


def future_value(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    horizon_days: float,
    customers: Any = None,
    *,
    customer_col: str = s.CUSTOMER_ID,
    timestamp_col: str = s.TIMESTAMP,
    revenue_col: str = s.REVENUE,
    is_return_col: str = s.IS_RETURN,
) -> pd.Series:
    """Net revenue (returns subtract) of each customer in ``[as_of, as_of + horizon_days)``.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, n_columns).
    as_of
        Start of the window.
    horizon_days
        Length of the window, in days.
    customers
        Whose value to report: ids (list, array, Index, Series) or a table with
        ids in ``customer_col`` or its index. Default: every customer with a
        purchase before ``as_of`` (the population of ``behaviour_vector``).
    customer_col, timestamp_col, revenue_col, is_return_col
        Column names (the canonical ones by default).

    Returns
    -------
    pandas.Series
        Shape (n_customers,), float64, named ``future_value``, indexed by
        customer id; 0 for a customer with nothing in the window. Default
        population sorted by id; given customers keep their order.
    """
    as_of_ts = as_of_timestamp(as_of)
    horizon = _positive_days(horizon_days, "horizon_days")
    require_transaction_columns(
        transactions, (customer_col, timestamp_col, revenue_col, is_return_col)
    )
    ts = timestamps_ns(transactions[timestamp_col], column=timestamp_col)
    ids = transactions[customer_col].array
    if customers is None:
        buy = ~bool_values(transactions[is_return_col], column=is_return_col)
        _, index = factorize_ids(ids[buy & (ts < as_of_ts.value)], column=customer_col, sort=True)
    else:
        index = _customer_index(customers, customer_col)
    in_window = (ts >= as_of_ts.value) & (ts < as_of_ts.value + horizon)
    codes = id_positions(ids[in_window], index)
    revenue = numeric_values(transactions[revenue_col].array[in_window], column=revenue_col)
    known = codes >= 0
    value = np.bincount(codes[known], weights=revenue[known], minlength=len(index))
    return pd.Series(value, index=index.rename(customer_col), name=s.FUTURE_VALUE)


def stack_snapshots(
    transactions: pd.DataFrame,
    as_ofs: Iterable[pd.Timestamp | str],
    build: Callable[[pd.DataFrame, pd.Timestamp], pd.DataFrame | pd.Series],
    *,
    customer_col: str = s.CUSTOMER_ID,
) -> pd.DataFrame:
    """Build one frame per snapshot and stack them into a training set.

    Parameters
    ----------
    transactions
        Passed unchanged to ``build``.
    as_ofs
        Distinct snapshot instants.
    build
        ``build(transactions, as_of)`` returning either a frame / series indexed
        by customer id (``behaviour_vector``, ``future_value``) or a frame with
        ``customer_col`` and ``as_of`` columns (``churn_labels``); bind other
        arguments with ``functools.partial`` or a lambda.
    customer_col
        The customer id column of the result.

    Returns
    -------
    pandas.DataFrame
        Index = MultiIndex (``customer_col``, ``as_of``), rows in snapshot
        order then as ``build`` returned them, so feature and label stacks
        join directly: ``X.join(y)``.
    """
    stamps = [as_of_timestamp(a) for a in as_ofs]
    if not stamps:
        raise KizunaInputError("give at least one snapshot", column="as_ofs")
    if len(set(stamps)) != len(stamps):
        dup = pd.Index(stamps)[pd.Index(stamps).duplicated()]
        raise KizunaInputError("snapshots must be distinct", column="as_ofs", values=dup)
    parts = []
    for stamp in stamps:
        part = build(transactions, stamp)
        if isinstance(part, pd.Series):
            part = part.to_frame()
        if not isinstance(part, pd.DataFrame):
            raise KizunaInputError(
                f"build must return a DataFrame or Series, got {type(part).__name__}"
            )
        if customer_col in part.columns:
            part = part.drop(columns=[s.AS_OF], errors="ignore").set_index(customer_col)
        elif part.index.name != customer_col:
            raise KizunaInputError(
                f"build must index its output by {customer_col!r} or return it as a column",
                column=customer_col,
            )  # fmt: skip
        index = pd.MultiIndex.from_arrays(
            [part.index, pd.DatetimeIndex(np.full(len(part), stamp.to_datetime64()))],
            names=[customer_col, s.AS_OF],
        )
        parts.append(part.set_axis(index, axis=0))
    return pd.concat(parts)


def _positive_days(days: float, name: str) -> int:
    """A positive day count as integer nanoseconds."""
    try:
        value = float(days)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0 or not np.isfinite(value):
        raise KizunaInputError("must be a positive number of days", column=name, values=[days])
    return round(value * DAY_NS)


def _customer_index(customers: Any, customer_col: str) -> pd.Index:
    if isinstance(customers, pd.DataFrame):
        index = keyed_table(customers, customer_col, table="customers").index
    else:
        index = pd.Index(customers if hasattr(customers, "__len__") else list(customers))
        if index.hasnans or not index.is_unique:
            raise KizunaInputError("customer ids must be unique and present", column=customer_col,
                                   values=index[index.duplicated()].unique())  # fmt: skip
    if index.inferred_type not in ("string", "empty"):
        # Validated ids are text (ids_to_str): 12 must find "12", not nobody (all zeros).
        index = pd.Index(ids_to_str(pd.Series(index, dtype=object)), name=index.name)
    return index
