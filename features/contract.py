"""Mapping a user's export onto the canonical tables, and coercing its types."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError


def apply_column_map(
    df: pd.DataFrame, column_map: Mapping[str, str] | None, *, table: str = "transactions"
) -> pd.DataFrame:
    """Rename a user's columns to the canonical names.

    Parameters
    ----------
    df
        The user's table, shape (n_rows, n_columns).
    column_map
        ``{canonical_name: user_column}``, e.g. ``{"customer_id": "CustNo"}``.
    table
        Table name, used in error messages.

    Returns
    -------
    pandas.DataFrame
        The same rows with the mapped columns renamed; other columns untouched.
    """
    if not column_map:
        return df
    missing = [src for src in column_map.values() if src not in df.columns]
    if missing:
        raise KizunaInputError(
            f"the column map for {table} names columns that the input does not have; "
            f"available columns are {list(map(str, df.columns))}",
            column=missing[0],
            values=missing,
        )
    clashes = [
        dst
        for dst, src in column_map.items()
        if dst in df.columns and dst != src and dst not in column_map.values()
    ]
    if clashes:
        raise KizunaInputError(
            f"the {table} input already has a column named like a mapped target; "
            "drop it or map it too",
            column=clashes[0],
            values=clashes,
        )
    return df.rename(columns={src: dst for dst, src in column_map.items()})


def require_columns(df: pd.DataFrame, required: Iterable[str], *, table: str) -> None:
    """Raise naming every required column that ``df`` lacks."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise KizunaInputError(
            f"the {table} table lacks required column(s) {missing}; it has "
            f"{list(map(str, df.columns))}. Map your export's names with a column_map",
            column=missing[0],
        )


def ids_to_str(values: pd.Series) -> pd.Series:
    """Turn an id column into strings, with missing and blank ids as NA.

    Float ids such as ``17850.0`` (an integer id column with gaps read by
    pandas) become ``"17850"``.

    Parameters
    ----------
    values
        Shape (n,), any dtype.

    Returns
    -------
    pandas.Series
        Shape (n,), pandas string dtype.
    """
    if pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(arr)
        whole = finite & (np.floor(arr) == arr)
        out = pd.Series(pd.NA, index=values.index, dtype="string")
        out[whole] = pd.Series(arr[whole].astype(np.int64), index=values.index[whole]).astype(
            "string"
        )
        frac = finite & ~whole
        out[frac] = values[frac].astype("string")
        return out
    out = values.astype("string").str.strip()
    return out.mask(out == "")


def to_number(values: pd.Series) -> pd.Series:
    """Parse numbers; what does not parse becomes NaN. Shape (n,) float64."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    return pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype("float64")


def to_timestamp(values: pd.Series, *, fmt: str | None = None) -> pd.Series:
    """Parse timestamps to naive UTC ``datetime64[ns]``; unparseable -> NaT.

    Time-zone-aware input is converted to UTC and made naive, so that every
    table compares on one clock.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        out = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
    else:
        text = values.astype("string").str.strip()
        out = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True)
        retry = out.isna() & text.notna() & (text != "")
        if fmt is None and retry.any():
            # Only the rows the fast ISO parser could not read pay for per-element parsing.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out[retry] = pd.to_datetime(
                    text[retry], format="mixed", errors="coerce", utc=True, dayfirst=False
                )
        out = out.dt.tz_localize(None)
    return out.astype("datetime64[ns]")


def check_coercible(
    original: pd.Series, parsed: pd.Series, *, column: str, kind: str, max_bad_share: float
) -> pd.Series:
    """Fail when a column as a whole is not of ``kind``; else return the bad-row mask.

    A few bad cells are set aside row by row; a column where more than
    ``max_bad_share`` of the present values fail to parse is a wrong mapping
    or a wrong format, and is reported as such.

    Returns
    -------
    pandas.Series
        Shape (n,) bool: rows whose value is present but did not parse.
    """
    present = original.notna()
    if original.dtype == object or pd.api.types.is_string_dtype(original.dtype):
        present &= original.astype("string").str.strip().fillna("") != ""
    bad = present & parsed.isna()
    n_present = int(present.sum())
    if n_present and bad.sum() > max_bad_share * n_present:
        raise KizunaInputError(
            f"cannot be read as {kind}: {int(bad.sum()):,} of {n_present:,} values fail",
            column=column,
            values=original[bad].unique()[:5],
        )
    return bad
