"""Checks of the labels and targets models learn from: 0/1 labels, finite numbers, and
the row order against the features' index. Each raises a :class:`KizunaInputError`
naming the labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError


def check_same_order(y: Any, index: pd.Index | None, name: str) -> None:
    """Refuse labels indexed by the features' ids in another order: rows pair by position
    (scikit-learn's rule), so such labels would silently belong to other customers.

    Parameters
    ----------
    y
        The labels, shape (n,).
    index
        The features' index, or None (then nothing is checked).
    name
        The labels' name in the error.
    """
    if index is None or not isinstance(y, pd.Series) or isinstance(y.index, pd.RangeIndex):
        return
    if len(y) == len(index) and not y.index.equals(index) and y.index.isin(index).all():
        raise KizunaInputError(
            f"{name} is indexed by the features' ids in another order, and rows pair by "
            "position: pass it as y.loc[X.index]",
            column=name,
        )


def check_binary_labels(
    y: Any, *, n_rows: int, name: str = "label", index: pd.Index | None = None
) -> np.ndarray:
    """Labels as an int array of 0/1, failing loudly on anything else.

    Parameters
    ----------
    y
        Shape (n,): bool, 0/1 numbers.
    n_rows
        Expected length (rows of the feature table).
    name
        The labels' name in errors.
    index
        The features' index, to refuse labels in another row order.

    Returns
    -------
    numpy.ndarray
        Shape (n,), int8 of 0 and 1.
    """
    check_same_order(y, index, name)
    series = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y.to_numpy())
    if n_rows == 0:
        raise KizunaInputError("cannot fit on an empty feature table")
    if len(series) != n_rows:
        raise KizunaInputError(
            f"{name} has {len(series)} values but the feature table has {n_rows} rows",
            column=name,
        )
    if series.isna().any():
        raise KizunaInputError(f"{int(series.isna().sum())} missing values", column=name)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.int8)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() | ~numbers.isin([0, 1])
    if bad.any():
        raise KizunaInputError(
            "expected 0/1 or true/false labels", column=name, values=series[bad].unique()
        )
    out = numbers.to_numpy(dtype=np.int8)
    if out.min() == out.max():
        raise KizunaInputError(
            f"needs both classes to learn from, but every value is {int(out[0])}", column=name
        )
    return out


def check_target(
    y: Any, *, n_rows: int, name: str = "target", index: pd.Index | None = None
) -> np.ndarray:
    """A regression target as a finite float array of shape (n,).

    Parameters
    ----------
    y
        Shape (n,): numbers.
    n_rows
        Expected length (rows of the feature table).
    name
        The target's name in errors.
    index
        The features' index, to refuse a target in another row order.

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64, finite.
    """
    check_same_order(y, index, name)
    arr = pd.to_numeric(pd.Series(np.asarray(y).ravel()), errors="coerce").to_numpy(float)
    if len(arr) != n_rows:
        raise KizunaInputError(
            f"{name} has {len(arr)} values but the feature table has {n_rows} rows", column=name
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise KizunaInputError(
            f"{int(bad.sum())} missing or infinite values",
            column=name,
            values=np.asarray(y).ravel()[bad],
        )
    return arr
