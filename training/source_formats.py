"""The known export formats read before the column contract: CDNOW text files, and checks.

:func:`training.data.read_transactions` (and the Spark engine's reader) turn
these through :mod:`features.adapters` into the canonical columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kizuna.features.adapters import CDNOW_MASTER_COLUMNS, CDNOW_SAMPLE_COLUMNS
from kizuna.features.errors import KizunaInputError


def read_cdnow(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a CDNOW text file (the master or the sample, plain or ``.gz``) as text columns.

    Parameters
    ----------
    source
        The file, or a DataFrame already read (passed through).

    Returns
    -------
    pandas.DataFrame
        The file's columns as strings, named as in the file's header or, for a
        headerless file, by the CDNOW column layout (sample or master).

    Raises
    ------
    KizunaInputError
        For a missing or unreadable file, or one without the CDNOW columns.
    """
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.exists():
        raise KizunaInputError(f"no such file: {path}")
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open  # read_csv infers the same
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            first = next((line for line in fh if line.strip()), "").split()
        has_header = bool(first) and not first[0].isdigit()
        names = (
            None
            if has_header
            else (CDNOW_SAMPLE_COLUMNS if len(first) == 5 else CDNOW_MASTER_COLUMNS)
        )
        frame = pd.read_csv(
            path, sep=r"\s+", header=0 if has_header else None, names=names, dtype="string"
        )
    except (UnicodeDecodeError, OSError, EOFError, pd.errors.ParserError) as exc:
        raise KizunaInputError(
            f"cannot read {path} as a CDNOW text file (plain or .gz): {exc}"
        ) from None
    check_format_columns(frame, CDNOW_MASTER_COLUMNS, "cdnow")
    return frame


def check_format_columns(frame: pd.DataFrame, expected: tuple[str, ...], format: str) -> None:
    """Refuse a table that lacks a known format's columns, naming what it has instead.

    Parameters
    ----------
    frame
        The table as read (its rows are not looked at).
    expected
        The columns the format has (e.g. ``ONLINE_RETAIL_COLUMNS``).
    format
        The format's name, for the message.

    Raises
    ------
    KizunaInputError
        Naming the missing columns and the ones present.
    """
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise KizunaInputError(
            f"this does not look like the {format!r} format: it lacks {missing}, "
            f"and has {list(map(str, frame.columns))}",
            column=missing[0],
        )
