"""Timestamps as integer ticks and period numbers, for the BTYD summary.

Period numbers are exact integer arithmetic on the timestamps' own ticks, so
they agree with pandas periods (weeks run Monday..Sunday) without building any.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError

# Period length of each supported time unit, as a NumPy timedelta unit. Months
# and years have no fixed length, so "recency in months" would be ambiguous.
TIME_UNITS = {"W": "W", "D": "D", "h": "h", "min": "m", "s": "s"}
# pandas' weekly periods ("W" = "W-SUN") run Monday..Sunday; 1970-01-05 is a Monday.
_FIRST_MONDAY_DAYS = 4


def time_ticks(ts: pd.Series, column: str) -> tuple[np.ndarray, str]:
    """Timestamps as int64 ticks since the epoch, and the tick unit.

    Parameters
    ----------
    ts
        Naive timestamps, shape (n,).
    column
        The column named in errors.

    Returns
    -------
    ticks : numpy.ndarray
        Shape (n,), int64.
    unit : str
        The tick unit (``"ns"``, ``"us"``...).
    """
    dtype = ts.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or getattr(dtype, "tz", None) is not None:
        raise KizunaInputError(
            f"timestamps must be tz-naive, got {dtype}; convert them, e.g. "
            ".dt.tz_convert('UTC').dt.tz_localize(None)",
            column=column,
            values=ts.head(3),
        )
    if not pd.api.types.is_datetime64_any_dtype(dtype):
        raise KizunaInputError(
            f"timestamps must be datetime64, got {dtype}; parse them with "
            "features.validate.validate_transactions or pandas.to_datetime",
            column=column,
            values=ts.head(3),
        )
    values = ts.to_numpy()
    if values.dtype.kind != "M":  # e.g. a pyarrow timestamp column
        values = ts.to_numpy(dtype="datetime64[ns]")
    tick_unit, count = np.datetime_data(values.dtype)
    if count != 1:
        values = values.astype("datetime64[ns]")
        tick_unit = "ns"
    nat = np.isnat(values)
    if nat.any():
        raise KizunaInputError(
            "timestamps are missing (NaT) in some rows (index labels shown)",
            column=column,
            values=ts.index[nat],
        )
    return values.view(np.int64), tick_unit


def first_tick_at_or_after(cutoff: pd.Timestamp, tick_unit: str) -> int:
    """``as_of`` in ticks, rounded up: a row is before ``as_of`` iff its tick is below it.

    Parameters
    ----------
    cutoff
        The ``as_of`` timestamp.
    tick_unit
        The unit of the ticks (from :func:`time_ticks`).

    Returns
    -------
    int
    """
    exact = cutoff.to_datetime64()
    as_of_unit, _ = np.datetime_data(exact.dtype)
    # Exact integer arithmetic, as as_of may be finer than the ticks or out of their range.
    ns = int(exact.view(np.int64)) * _ns_per(as_of_unit)
    limit = -(-ns // _ns_per(tick_unit))
    int64 = np.iinfo(np.int64)
    return min(max(limit, int64.min + 2), int64.max)


def _ns_per(unit: str) -> int:
    return int(np.timedelta64(1, unit) // np.timedelta64(1, "ns"))


def period_numbers(ticks: np.ndarray, tick_unit: str, time_unit: str) -> np.ndarray:
    """Integer period numbers; consecutive periods differ by 1.

    Parameters
    ----------
    ticks
        Timestamps as ticks since the epoch, shape (n,).
    tick_unit
        Their unit (from :func:`time_ticks`).
    time_unit
        The period, a key of ``TIME_UNITS`` (``"D"``, ``"W"``...); weeks start on Monday.

    Returns
    -------
    numpy.ndarray
        Shape (n,), int64.
    """
    step = int(
        np.timedelta64(1, TIME_UNITS[time_unit]).astype(f"timedelta64[{tick_unit}]").view(np.int64)
    )
    if time_unit == "W":
        origin = int(
            np.timedelta64(_FIRST_MONDAY_DAYS, "D")
            .astype(f"timedelta64[{tick_unit}]")
            .view(np.int64)
        )
        return np.floor_divide(ticks - origin, step)
    return np.floor_divide(ticks, step)
