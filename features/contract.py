"""Coercing a user's columns to the contract's types (mapping them: :mod:`features.column_map`)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError
from kizuna.features.numbers import style_hint
from kizuna.features.timestamps import DEFAULT_RULE, TimestampRule, parse_timestamps


def require_columns(df: pd.DataFrame, required: Iterable[str], *, table: str) -> None:
    """Raise naming every required column that ``df`` lacks.

    Parameters
    ----------
    df
        The table, shape (n_rows, k).
    required
        The columns it must hold.
    table
        The table's name (``transactions``, ``customers``...), named in the error.
    """
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
    pandas), also when written as text, become ``"17850"``.

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
    out = out.mask(out == "")
    if out.str.contains(".", regex=False).any():
        # The same float ids written as text by an export (or a JSON writer): value by
        # value, so that a line alone (an /events line, a Spark shard) reads the same.
        out = out.str.replace(WHOLE_FLOAT, r"\1", regex=True)
    return out


#: A whole number written as a float (``17850.0``): the id is its integer part. Also
#: a Java regex (ASCII digits there), for the Spark engine's shard keys.
WHOLE_FLOAT = r"^([+-]?\d+)\.0+$"


def to_timestamp(
    values: pd.Series,
    *,
    fmt: str | None = None,
    rule: TimestampRule | None = None,
    column: str = "timestamp",
) -> pd.Series:
    """Parse timestamps to naive UTC ``datetime64[ns]``; unparseable -> NaT.

    ``rule`` (or the shorthand ``fmt``) says how the column is written; the
    default is ISO 8601 text (see :mod:`features.timestamps`). Time-zone-aware
    input is converted to UTC and made naive, so every table compares on one clock.

    Parameters
    ----------
    values
        The raw column, shape (n,).
    fmt
        A ``strftime`` format, shorthand for ``TimestampRule(format=fmt)``.
    rule
        How the column is written; wins over ``fmt``.
    column
        The column named in errors.

    Returns
    -------
    pandas.Series
        Shape (n,), naive ``datetime64[ns]`` in UTC; NaT where unparseable.
    """
    if rule is None:
        rule = TimestampRule(format=fmt) if fmt else DEFAULT_RULE
    return parse_timestamps(values, rule, column=column)


def check_coercible(
    original: pd.Series, parsed: pd.Series, *, column: str, kind: str, max_bad_share: float
) -> pd.Series:
    """Fail when a column as a whole is not of ``kind``; else return the bad-row mask.

    A few bad cells are set aside row by row; a column where more than
    ``max_bad_share`` of the present values fail to parse is a wrong mapping
    or a wrong format, and is reported as such.

    Parameters
    ----------
    original
        The raw column, shape (n,).
    parsed
        The same column after parsing, missing where parsing failed, shape (n,).
    column
        The column named in the error.
    kind
        What the values should be (``"numbers"``, ``"timestamps"``...), as a noun.
    max_bad_share
        Largest share of present values allowed to fail before the column as a whole fails.

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
        hint = style_hint(original[bad].head(1000)) if kind == "numbers" else ""
        raise KizunaInputError(
            f"cannot be read as {kind}: {int(bad.sum()):,} of {n_present:,} values fail{hint}",
            column=column,
            values=original[bad].unique()[:5],
        )
    return bad
