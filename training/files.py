"""Reading a table file: CSV, TSV, Parquet or JSON lines, compressed or not, any extension.

:mod:`training.file_kinds` tells a file's format and compression.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES  # pandas' own "missing" words (NA, NULL, ...)

from kizuna.features.errors import KizunaInputError
from kizuna.training.file_kinds import ReadOptions, compression_of, file_format_of


def read_parquet_file(path: Path) -> pd.DataFrame:
    """``pd.read_parquet``, with a damaged or truncated file named in one line.

    Parameters
    ----------
    path
        The Parquet file or folder.

    Returns
    -------
    pandas.DataFrame
    """
    import pyarrow as pa

    try:
        return pd.read_parquet(path)
    except pa.ArrowException as exc:
        raise KizunaInputError(
            f"{path} is not a readable Parquet file ({exc}); was it cut short while written?"
        ) from None


def read_table(
    source: str | Path | pd.DataFrame,
    *,
    string_columns: set[str] | None = None,
    reading: ReadOptions | None = None,
    nrows: int | None = None,
) -> pd.DataFrame:
    """Read a table file, or pass a DataFrame through.

    Compression is recognised from the file's content.

    Parameters
    ----------
    source
        A file path, or a frame (returned as it is).
    string_columns
        Columns read as text, so that ids such as ``"00042"`` keep their leading zeros.
    reading
        Format, delimiter, header, column names and encoding; None: the defaults.
    nrows
        Read only the first rows of a text file (to learn its types); None: all.

    Returns
    -------
    pandas.DataFrame
        Shape (n_rows, n_columns).
    """
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.exists():
        raise KizunaInputError(f"no such file: {path}")
    options = reading or ReadOptions()
    kind = file_format_of(path, options)
    if kind == "parquet":
        return read_parquet_file(path)
    compression = compression_of(path)
    if kind == "jsonl":
        try:
            enc = options.encoding
            frame = pd.read_json(
                path, lines=True, compression=compression, dtype=False, nrows=nrows, encoding=enc
            )
            if len(frame) == 1 and all(isinstance(v, dict) for v in frame.iloc[0]):
                # One JSON array of records, not one record per line.
                frame = pd.read_json(path, compression=compression, dtype=False, encoding=enc)
                frame = frame.head(nrows) if nrows is not None else frame
        except ValueError as exc:
            raise KizunaInputError(f"cannot parse {path} as JSON lines: {exc}") from None
        for col in (string_columns or set()) & set(frame.columns):
            frame[col] = frame[col].astype("string")
        return frame
    sep = options.delimiter or ("\t" if kind == "tsv" else ",")
    names = list(options.columns) if options.columns else None
    try:
        columns = names if names else header_names(path, sep=sep, encoding=options.encoding)
        text = [c for c in columns if string_columns and c in string_columns]
        frame = read_delimited(
            path,
            sep=sep,
            header=options.header,
            names=names,
            dtype=dict.fromkeys(text, "string"),
            nrows=nrows,
            encoding=options.encoding,
            na_values=_missing_words(columns, text) if text else None,
        )
    except KizunaInputError:
        raise
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        ragged = ragged_line(str(exc), str(path))
        if ragged is not None:
            raise KizunaInputError(ragged) from None
        raise KizunaInputError(f"cannot parse {path} as {kind} (sep {sep!r}): {exc}") from None
    if names and frame.shape[1] != len(names):  # pragma: no cover - pandas pads or fails first
        raise KizunaInputError(f"{path} has {frame.shape[1]} columns, `columns` names {len(names)}")
    return frame


def read_delimited(
    path: Path,
    *,
    sep: str,
    header: bool = True,
    names: list[str] | None = None,
    dtype: Any = None,
    nrows: int | None = None,
    encoding: str = "utf-8",
    na_values: dict[Any, list[str]] | None = None,
) -> pd.DataFrame:
    """``pd.read_csv`` of a delimited text file, never taking a column as the index.

    Exports often end data lines, but not the header, with the delimiter; by
    default pandas then takes the first column as the index and shifts every
    name one column to the left. Here the empty last field is dropped, and a
    line whose extra field holds a value fails (pandas would drop the value).

    Parameters
    ----------
    path
        The text file (compression recognised from its content).
    sep, header, names, dtype, nrows, encoding
        As for ``pd.read_csv`` (``header``: whether the first line names the columns).
    na_values
        The text read as missing per column; a column it does not name keeps every
        value, a blank field as ``""``. None: pandas' defaults everywhere.

    Returns
    -------
    pandas.DataFrame
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        frame = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            names=names,
            index_col=False,
            dtype=dtype,
            compression=compression_of(path),
            low_memory=False,
            nrows=nrows,
            encoding=encoding,
            keep_default_na=na_values is None,
            na_values=na_values,
        )
    if any("does not match length of data" in str(w.message) for w in caught):
        raise KizunaInputError(
            f"{path}: some data lines have more fields than the {frame.shape[1]} "
            "columns named, with values in them: an unquoted delimiter inside a value, "
            "or a header missing a name"
        )
    return frame


#: pandas' words for a missing value (``NA``, ``NULL``, ``nan``, ..., and the blank).
MISSING_WORDS: tuple[str, ...] = tuple(sorted(STR_NA_VALUES))


def _missing_words(columns: list[str], text: list[str]) -> dict[Any, list[str]]:
    """pandas' words for a missing value (``NA``, ``NULL``, ...) per column, but for the
    ``text`` (id) columns: there ``NA`` is an id, as Spark reads it, and only a blank
    is missing. Blank fields past the named columns (a trailing delimiter) stay
    missing, by position, so that they are not taken for values."""
    words = list(MISSING_WORDS)
    out: dict[Any, list[str]] = {c: words for c in columns if c not in text}
    out.update({i: [""] for i in range(len(columns), len(columns) + 16)})
    return out


def header_names(path: Path, *, sep: str, encoding: str = "utf-8") -> list[str]:
    """The names on a delimited file's first line, failing on a name given twice.

    pandas would rename the second ``Qty`` to ``Qty.1`` and Spark to ``Qty4``: a
    column map would then name a column that one engine has and the other not.

    Parameters
    ----------
    path
        The delimited file.
    sep
        Its delimiter.
    encoding
        Its text encoding.

    Returns
    -------
    list of str
    """
    first = pd.read_csv(
        path,
        sep=sep,
        header=None,
        nrows=1,
        dtype="string",
        keep_default_na=False,
        compression=compression_of(path),
        encoding=encoding,
    )
    names = [str(v) for v in first.iloc[0]] if len(first) else []
    # Spark (spark.sql.caseSensitive is off by default) takes Category and category for
    # one name, so a name given twice is one that differs only by case, too.
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        if name.strip():  # blank names (trailing delimiters) are pandas' "Unnamed: n"
            seen.setdefault(name.casefold(), []).append(i)
    twice = {names[w[0] - 1]: w for w in seen.values() if len(w) > 1}
    if twice:
        listed = "; ".join(
            f"{' / '.join(dict.fromkeys(repr(names[i - 1]) for i in w))} "
            f"(columns {', '.join(map(str, w))})"
            for w in twice.values()
        )
        raise KizunaInputError(
            f"{path}: the header gives a name to more than one column (case aside): {listed}. "
            "Rename them in the file, or read it with header: false and columns: [...]"
        )
    return names


def ragged_line(message: str, where: str) -> str | None:
    """pandas' "Expected 3 fields in line 7, saw 4" in the user's terms.

    Parameters
    ----------
    message
        A pandas parser error's message.
    where
        The file, as named in the result.

    Returns
    -------
    str or None
        None when ``message`` is not about a ragged line.
    """
    import re

    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if found is None:
        return None
    want, line, saw = found.groups()
    return (
        f"line {line} of {where} has {saw} fields where the lines before it have {want}: an "
        "unquoted delimiter inside a value, or a wrong delimiter setting"
    )


def not_text(exc: UnicodeDecodeError, path: object | None = None) -> str:
    """One line for a file that is not UTF-8 text, naming the first bad byte (and the file).

    Parameters
    ----------
    exc
        The decoding error.
    path
        The file; None: not named.

    Returns
    -------
    str
    """
    where = f"{path} is" if path is not None else "the input is"
    bad = exc.object[exc.start : exc.start + 1]
    byte = f"byte {bad[0]:#04x}" if bad else "a byte"
    return (
        f"{where} not UTF-8 text (a binary or compressed file, or another encoding): {byte} at "
        f"position {exc.start}; declare its encoding in the experiment's data section "
        "(e.g. `encoding: cp1252`, Excel's on Windows), or save it as UTF-8 CSV or Parquet"
    )
