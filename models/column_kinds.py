"""Column conversions behind :class:`models.preprocessing.TabularPreprocessor`.

Text normalisation (blanks to NA, ``17850.0`` spelled as ``17850``), LightGBM-safe
names, which kind a column is and which categories it keeps, and each column kind's
values as float64 (numbers written as text, booleans, dates as days since 1970-01-01,
durations as days).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kizuna.features.errors import KizunaInputError

# LightGBM refuses these in feature names (they break its JSON model dump).
_UNSAFE_NAME = re.compile(r'[\s\[\]{}",:]')
_EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")
_NS_PER_DAY = 86_400 * 10**9

ColumnKind = Literal["numeric", "numeric_text", "bool", "category", "days", "duration", "empty"]


def normalise_text(values: pd.Series) -> pd.Series:
    """Strip text, turn blanks into NA, and spell whole-number floats as integers.

    ``17850.0`` and ``"17850"`` must name the same category, since an integer
    code column with gaps is read by pandas as float.

    Parameters
    ----------
    values
        Shape (n,), any dtype.

    Returns
    -------
    pandas.Series
        Shape (n,), pandas ``string`` dtype with NA for missing and blank cells.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(arr) & (np.floor(arr) == arr)
        text = values.astype("string")
        text[whole] = pd.Series(arr[whole].astype(np.int64), index=values.index[whole]).astype(
            "string"
        )
        return text.mask(~np.isfinite(arr))
    if values.dtype == object:
        # Mixed object columns (numbers among strings): floats must follow the rule above.
        values = values.map(_spell_whole_float, na_action="ignore")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _spell_whole_float(value: Any) -> Any:
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return value


#: From this many values on, one Arrow lookup beats a dict lookup per cell: its set-up costs
#: about 0.15 ms, a dict lookup about 0.3 µs a cell (measured crossover: 600-2,000 values).
ARROW_MIN_VALUES = 1024


def category_codes(
    text: pd.Series, categories: Sequence[str], lookup: Mapping[str, int] | None = None
) -> np.ndarray:
    """Position of each value in ``categories``, shape (n,) int64; -1 for missing and unseen.

    Long columns take one Arrow hash lookup instead of a Python dict lookup
    per cell; short ones (a serving request) the dict, which costs less there.

    Parameters
    ----------
    text
        Shape (n,), as :func:`normalise_text` returns it (``string`` dtype, NA for missing).
    categories
        The known categories, unique.
    lookup
        ``{category: position}`` of ``categories``, if the caller keeps one.

    Returns
    -------
    numpy.ndarray
        Shape (n,), int64; -1 for missing and unseen values.
    """
    if len(categories) == 0:
        return np.full(len(text), -1, dtype=np.int64)
    if len(text) < ARROW_MIN_VALUES:
        if lookup is None:
            lookup = {c: i for i, c in enumerate(categories)}
        cells = text.to_numpy(dtype=object, na_value=None)
        return np.fromiter((lookup.get(v, -1) for v in cells), dtype=np.int64, count=len(cells))
    values = pa.array(text.astype("string").array, type=pa.large_string())
    found = pc.index_in(values, value_set=pa.array(list(categories), type=pa.large_string()))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def is_text_like(dtype: Any) -> bool:
    return (
        dtype == np.dtype(object)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def safe_names(columns: Sequence[str]) -> list[str]:
    """LightGBM-safe, unique names: ``"Monthly charges ($)"`` -> ``"Monthly_charges_($)"``.

    Parameters
    ----------
    columns
        Column names.

    Returns
    -------
    list of str
        One per column, in order, unique.
    """
    out: list[str] = []
    seen: set[str] = set()
    for col in columns:
        name = _UNSAFE_NAME.sub("_", str(col)) or "feature"
        candidate, k = name, 2
        while candidate in seen:
            candidate, k = f"{name}__{k}", k + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def to_float(values: pd.Series, col: str, kind: str) -> np.ndarray:
    """Shape (n,) float64 for numeric, numeric_text, bool and days columns.

    Parameters
    ----------
    values
        A column, shape (n,).
    col
        Its name, for errors.
    kind
        Its kind as learned at fit (``"numeric"``, ``"numeric_text"``, ``"bool"``, ``"days"``,
        ``"duration"``).

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64; NaN where missing.
    """
    dtype = values.dtype
    if kind == "duration":
        if not pd.api.types.is_timedelta64_dtype(dtype):
            text = normalise_text(values)
            values = pd.to_timedelta(text, errors="coerce")
            bad = text.notna() & values.isna()
            if bad.any():
                raise KizunaInputError(
                    "expected durations as at training", column=col, values=text[bad].unique()
                )
        ns = values.astype("timedelta64[ns]").to_numpy()
        return np.where(np.isnat(ns), np.nan, ns.astype(np.int64) / _NS_PER_DAY)
    if kind == "days":
        if isinstance(dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif not pd.api.types.is_datetime64_any_dtype(dtype):
            text = normalise_text(values)
            values = pd.to_datetime(text, errors="coerce")
            bad = text.notna() & values.isna()
            if bad.any():
                raise KizunaInputError(
                    "expected dates as at training", column=col, values=text[bad].unique()
                )
        ns = values.astype("datetime64[ns]").to_numpy()
        days = (ns - _EPOCH).astype("timedelta64[ns]").astype(np.int64) / _NS_PER_DAY
        return np.where(np.isnat(ns), np.nan, days)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return values.to_numpy(dtype=float, na_value=np.nan)
    # Text at this point: numbers written as text, or booleans sent as text/objects.
    text = normalise_text(values)
    if kind == "bool":
        lowered = text.str.lower()
        mapped = lowered.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0})
        bad = text.notna() & mapped.isna()
        parsed = mapped
    else:
        parsed = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & parsed.isna()
    if bad.any():
        raise KizunaInputError(
            f"expected {'true/false' if kind == 'bool' else 'numbers'} as at training",
            column=col,
            values=values[bad.to_numpy()].unique(),
        )
    return parsed.astype("float64").to_numpy(dtype=float, na_value=np.nan)


def column_kind(
    values: pd.Series, *, forced: bool, datetimes: Literal["days", "drop"]
) -> ColumnKind | None:
    """The kind of one input column (see :mod:`models.preprocessing`), or None to drop it.

    Parameters
    ----------
    values
        The column, shape (n,).
    forced
        Whether configuration names it categorical.
    datetimes
        ``"days"`` keeps dates and durations as days; ``"drop"`` drops them.

    Returns
    -------
    str or None
        The column's kind; None for a date or duration when ``datetimes="drop"``.
    """
    dtype = values.dtype
    if forced:
        return "category"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "days" if datetimes == "days" else None
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "duration" if datetimes == "days" else None
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric" if values.notna().any() else "empty"
    if is_text_like(dtype):
        text = normalise_text(values)
        present = text.notna()
        if not present.any():
            return "empty"
        # A text column that is all numbers (or all booleans) is data typed as text.
        if values.dtype == object and values[values.notna()].map(type).eq(bool).all():
            return "bool"
        parsed = pd.to_numeric(text[present], errors="coerce")
        return "numeric_text" if parsed.notna().all() else "category"
    raise KizunaInputError(f"unsupported column type {dtype}", column=str(values.name))


def learn_categories(text: pd.Series, max_categories: int | None) -> list[str]:
    """The categories kept for a column: the most frequent (ties by name), sorted.

    Parameters
    ----------
    text
        The column's normalised text (:func:`normalise_text`), shape (n,).
    max_categories
        Most categories kept; None keeps all.

    Returns
    -------
    list of str
        Sorted; a category's position is its code.
    """
    counts = text.value_counts(dropna=True)
    if counts.empty:
        return []
    order = pd.DataFrame({"cat": counts.index.astype(str), "n": counts.to_numpy()})
    order = order.sort_values(["n", "cat"], ascending=[False, True], kind="stable")
    if max_categories is not None:
        order = order.head(max_categories)
    return sorted(order["cat"].tolist())


def check_finite(values: np.ndarray, col: str) -> None:
    """Refuse infinite values in a numeric column, naming it.

    Parameters
    ----------
    values
        The column as float64, shape (n,).
    col
        The column named in the error.
    """
    bad = np.isinf(values)
    if bad.any():
        raise KizunaInputError(
            "infinite values; use NaN for 'unknown'", column=col, values=values[bad]
        )
