"""Column-to-array helpers shared by the feature builders (behaviour, labels, interactions).

Required columns, timestamps to int64 nanoseconds, checked booleans and numbers, each
raising a :class:`KizunaInputError` that names the column, and independent jobs run on
threads. Id columns to integer codes are in :mod:`features.id_codes`, the cutoff
(``as_of``) in :mod:`features.as_of`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError

DAY_NS = 86_400 * 10**9
# Threads for the independent string factorizations (the target machine has 2 cores).
THREADS = min(2, os.cpu_count() or 1)


def require_transaction_columns(df: Any, required: Sequence[str]) -> None:
    """Raise naming the required columns a transactions frame lacks.

    Parameters
    ----------
    df
        The transactions frame, shape (n_rows, k).
    required
        The columns it must hold.
    """
    if not isinstance(df, pd.DataFrame):
        raise KizunaInputError(f"transactions must be a pandas DataFrame, got {type(df).__name__}")
    missing = [col for col in required if col not in df.columns]
    if missing:
        raise KizunaInputError(
            f"the transactions lack required column(s) {missing}; pass validated "
            "transactions (features.validate.validate_transactions adds revenue and "
            "is_return) or name your columns with the *_col arguments",
            column=missing[0],
        )


def timestamps_ns(values: pd.Series, *, column: str) -> np.ndarray:
    """Naive datetimes as int64 nanoseconds, shape (n,); raise on other types or NaT.

    Parameters
    ----------
    values
        Naive datetime64 values, shape (n,).
    column
        The column named in the error.

    Returns
    -------
    numpy.ndarray
        Shape (n,), int64 nanoseconds since the epoch.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype) or not pd.api.types.is_datetime64_dtype(
        values.dtype
    ):
        raise KizunaInputError(
            f"must be naive datetime64 (got {values.dtype}); validate the transactions first",
            column=column, values=values.head(3),
        )  # fmt: skip
    out = values.to_numpy(dtype="datetime64[ns]").view(np.int64)
    nat = out == np.iinfo(np.int64).min
    if nat.any():
        raise KizunaInputError(f"{int(nat.sum())} timestamps are missing", column=column)
    return out


def bool_values(values: pd.Series, *, column: str) -> np.ndarray:
    """A boolean column as a numpy bool array; raise on missing or non-boolean values.

    Parameters
    ----------
    values
        Booleans, shape (n,).
    column
        The column named in the error.

    Returns
    -------
    numpy.ndarray
        Shape (n,), bool.
    """
    if not pd.api.types.is_bool_dtype(values.dtype):
        raise KizunaInputError(f"must be boolean (got {values.dtype})", column=column,
                               values=values.head(3))  # fmt: skip
    if values.hasnans:
        raise KizunaInputError("must not have missing values", column=column)
    return values.to_numpy(dtype=bool)


def numeric_values(values: Any, *, column: str) -> np.ndarray:
    """A numeric column (Series or extension array) as float64, shape (n,).

    Parameters
    ----------
    values
        Numbers, shape (n,): a Series, an extension array or a NumPy array.
    column
        The column named in the error.

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64.
    """
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise KizunaInputError(f"must be numeric (got {values.dtype})", column=column)
    out = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isfinite(out).all():
        raise KizunaInputError("must be finite numbers", column=column,
                               values=out[~np.isfinite(out)][:5])  # fmt: skip
    return out


def run_parallel(jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent jobs on up to ``THREADS`` threads; results by job name.

    Worth it for pyarrow and NumPy kernels, which release the GIL.

    Parameters
    ----------
    jobs
        Job name -> a function of no arguments.

    Returns
    -------
    dict
        Job name -> its result.
    """
    if THREADS <= 1 or len(jobs) <= 1:
        return {name: job() for name, job in jobs.items()}
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}
