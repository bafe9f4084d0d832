"""Input checks of the BTYD estimators: each names the offending argument.

Every check raises :class:`features.errors.KizunaInputError` with the argument's
name and the offending values; the estimators (:mod:`models.bgnbd`,
:mod:`models.gamma_gamma`, :mod:`models.next_order`) call them before fitting or
predicting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError


def as_float_array(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a finite 1-D float array, shape (n,).

    Parameters
    ----------
    values
        Array-like, shape (n,) (a scalar becomes shape (1,)).
    name
        The argument named in errors.

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64, finite.

    Raises
    ------
    KizunaInputError
        If the values are not numeric, not 1-D, empty, NaN or infinite.
    """
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        sample = np.asarray(values, dtype=object).ravel()[:5]
        raise KizunaInputError("must be numeric", column=name, values=sample) from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise KizunaInputError(
            f"must be one-dimensional, shape (n_customers,); got shape {array.shape}", column=name
        )
    if array.size == 0:
        raise KizunaInputError("is empty", column=name)
    bad = ~np.isfinite(array)
    if bad.any():
        raise KizunaInputError(
            f"has {int(bad.sum())} NaN or infinite values at positions",
            column=name,
            values=np.flatnonzero(bad),
        )
    return array


def check_non_negative(array: np.ndarray, name: str) -> None:
    """Raise if any value is negative, showing a few of them.

    Parameters
    ----------
    array
        Numbers, shape (n,).
    name
        The argument named in the error.
    """
    negative = array < 0
    if negative.any():
        raise KizunaInputError(
            f"has {int(negative.sum())} negative values", column=name, values=array[negative]
        )


def check_same_length(**arrays: np.ndarray) -> None:
    """Raise if the named arrays do not all have the same length.

    Parameters
    ----------
    **arrays
        Argument name -> array; the first name is the one the error names.
    """
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise KizunaInputError(
            f"arrays must have the same length (one entry per customer); got {described}",
            column=next(iter(arrays)),
        )


def check_frequency(frequency: np.ndarray, name: str = "frequency") -> None:
    """Raise unless ``frequency`` holds non-negative whole numbers.

    Parameters
    ----------
    frequency
        Repeat purchase counts, shape (n,).
    name
        The argument named in errors.
    """
    check_non_negative(frequency, name)
    fractional = frequency != np.round(frequency)
    if fractional.any():
        raise KizunaInputError(
            "must count repeat purchase periods (whole numbers)",
            column=name,
            values=frequency[fractional],
        )


def validate_rfm(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the (frequency, recency, T) summary of a BG/NBD-type model.

    Parameters
    ----------
    frequency, recency, T
        Array-likes of shape (n_customers,): repeat purchases, time from the
        first to the last purchase, time from the first purchase to the end
        of the observation period (same time unit for both).

    Returns
    -------
    tuple of three float arrays, shape (n_customers,)

    Raises
    ------
    KizunaInputError
        On NaN/infinite or negative values, fractional frequency, mismatched
        lengths, ``recency > T`` or ``recency > 0`` with ``frequency == 0``.
    """
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    big_t = as_float_array(T, "T")
    check_same_length(frequency=x, recency=t_x, T=big_t)
    check_frequency(x)
    check_non_negative(t_x, "recency")
    check_non_negative(big_t, "T")
    # isclose tolerates recency and T computed by different float routes.
    after_end = (t_x > big_t) & ~np.isclose(t_x, big_t)
    if after_end.any():
        raise KizunaInputError(
            f"is larger than T for {int(after_end.sum())} customers (last purchase after the "
            "end of the observation period) at positions",
            column="recency",
            values=np.flatnonzero(after_end),
        )
    orphan = (x == 0) & (t_x > 0)
    if orphan.any():
        raise KizunaInputError(
            f"is > 0 for {int(orphan.sum())} customers with frequency 0 (no repeat purchase "
            "means no time between first and last purchase) at positions",
            column="recency",
            values=np.flatnonzero(orphan),
        )
    return x, np.minimum(t_x, big_t), big_t


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float,
    strict: bool = False,
    integer: bool = False,
    maximum: float | None = None,
) -> None:
    """Raise unless ``value`` is a finite number >= ``minimum`` (> if ``strict``).

    Parameters
    ----------
    name
        The argument or setting, named in the error.
    value
        What was given.
    minimum
        Lowest allowed value (excluded with ``strict``).
    strict
        Whether ``minimum`` itself is refused.
    integer
        Whether the value must be a whole number.
    maximum
        Highest allowed value (included), if any.

    Raises
    ------
    KizunaInputError
        Naming ``name`` and showing ``value``.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = np.nan
    ok = np.isfinite(number) and (number > minimum if strict else number >= minimum)
    if integer:
        ok = ok and number == int(number)
    if maximum is not None:
        ok = ok and number <= maximum
    if not ok:
        kind = "an integer" if integer else "a finite number"
        upper = "" if maximum is None else f" and <= {maximum:g}"
        raise KizunaInputError(
            f"must be {kind} {'>' if strict else '>='} {minimum:g}{upper}",
            column=name,
            values=[value],
        )


def validate_time(t: Any, name: str = "t") -> np.ndarray:
    """Validate a non-negative, finite time (scalar or array); return a float array.

    Parameters
    ----------
    t
        A time or times, any shape.
    name
        The argument named in errors.

    Returns
    -------
    numpy.ndarray
        Float64, the shape of ``t``.
    """
    try:
        array = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise KizunaInputError(
            "must be numeric", column=name, values=np.ravel(np.asarray(t, dtype=object))
        ) from None
    bad = ~np.isfinite(array) | (array < 0)
    if bad.any():
        raise KizunaInputError("must be finite and >= 0", column=name, values=array[bad])
    return array


def require_columns(frame: Any, columns: Sequence[str]) -> None:
    """Raise unless ``frame`` is a DataFrame holding all ``columns``.

    Parameters
    ----------
    frame
        The RFM summary, shape (n_customers, k).
    columns
        The columns it must hold.
    """
    if not isinstance(frame, pd.DataFrame):
        raise KizunaInputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KizunaInputError(
            f"is missing from the RFM frame, whose columns are {list(frame.columns)}",
            column=missing[0],
        )
