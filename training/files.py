"""Reading a table file: CSV, TSV, Parquet or JSON lines, compressed or not, any extension."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES  # pandas' own "missing" words (NA, NULL, ...)

from kizuna.features.errors import KizunaInputError

FileFormat = Literal["csv", "tsv", "parquet", "jsonl"]
FILE_FORMATS: tuple[str, ...] = ("csv", "tsv", "parquet", "jsonl")
_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"PK\x03\x04", "zip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file whose name does not say (``data.file_format`` and friends).

    Attributes
    ----------
    file_format
        ``csv``, ``tsv``, ``parquet`` or ``jsonl``; None: from the extension.
    delimiter
        Field separator of a text file (``csv`` default ``,``; ``tsv`` ``\\t``).
    header
        False when the first line is data; ``columns`` then names the columns.
    columns
        Column names of a headerless file, in order.
    encoding
        Text encoding of a CSV, TSV or JSON lines file (``cp1252``, ``latin-1``, ...).
    """

    file_format: FileFormat | None = None
    delimiter: str | None = None
    header: bool = True
    columns: tuple[str, ...] | None = None
    encoding: str = "utf-8"


def file_format_of(path: Path, options: ReadOptions | None = None) -> FileFormat:
    """The declared format, else the one the extension names (after any compression suffix)."""
    if options is not None and options.file_format is not None:
        return options.file_format
    if path.is_dir():  # a Parquet dataset, as Spark writes one
        if next(path.rglob("*.parquet"), None) is not None:
            return "parquet"
        raise KizunaInputError(
            f"{path} is a folder with no .parquet file in it: give a file (CSV, TSV, JSON lines "
            "or Parquet) or a folder of Parquet files"
        )
    name = path.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    found = _SUFFIXES.get(Path(name).suffix)
    if found is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise KizunaInputError(
            f"cannot tell the file type of {path}; name it with one of {known} (optionally "
            f"compressed: {', '.join(_COMPRESSION_SUFFIXES)}), or declare it in the experiment's "
            f"data section: `file_format: csv | tsv | parquet | jsonl` (with `delimiter`, and "
            f"`header: false` plus `columns: [...]` for a file without a header line)"
        )
    return found


def compression_of(path: Path) -> str | None:
    """The compression a file's first bytes show (gzip, bz2, zip, xz, zstd), or None.

    Raises
    ------
    KizunaInputError
        For a spreadsheet (an Excel or OpenDocument workbook is a zip file too).
    """
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # an old Excel (OLE) workbook
        raise KizunaInputError(_WORKBOOK.format(path=path))
    for magic, name in _MAGIC:
        if head.startswith(magic):
            if name == "zip":
                _check_zip(path)
            return name
    return None


_WORKBOOK = (
    "{path} is a spreadsheet workbook (Excel or OpenDocument), which kizuna does not read: "
    "save the sheet of order lines as CSV UTF-8 (or export Parquet)"
)


def _check_zip(path: Path) -> None:
    """Refuse a workbook (a zip too) and a zip of several files (pandas reads a zip
    holding one), saying how to fix each."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile:
        return
    if "xl/workbook.xml" in names or {"content.xml", "mimetype"} <= set(names):
        raise KizunaInputError(_WORKBOOK.format(path=path))
    if len(names) <= 1:
        return
    mac = [n for n in names if n.startswith("__MACOSX/")]
    hint = f" (`zip -d {path.name} '__MACOSX/*'` removes what a Mac's Finder added)" if mac else ""
    raise KizunaInputError(
        f"{path} is a zip of {len(names)} files ({', '.join(names[:4])}); kizuna reads a zip "
        f"holding one file: unzip it and give the CSV{hint}"
    )


def read_parquet_file(path: Path) -> pd.DataFrame:
    """``pd.read_parquet``, with a damaged or truncated file named in one line."""
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

    ``string_columns`` are read as text so that ids such as ``"00042"`` keep
    their leading zeros. Compression is recognised from the file's content.
    ``nrows`` reads only the first rows of a text file (to learn its types).
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
    ``na_values``: the text read as missing per column; a column it does not name
    keeps every value, a blank field as ``""``. None: pandas' defaults everywhere.
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
    """pandas' "Expected 3 fields in line 7, saw 4" in the user's terms (None: not that)."""
    import re

    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if found is None:
        return None
    want, line, saw = found.groups()
    return (
        f"line {line} of {where} has {saw} fields where the lines before it have {want}: an "
        "unquoted delimiter inside a value, or a wrong delimiter setting"
    )


def reading_options(data: object) -> ReadOptions:
    """The read settings of a ``DataConfig`` (duck-typed to keep this module config-free)."""
    columns = getattr(data, "columns", None)
    return ReadOptions(
        file_format=getattr(data, "file_format", None),
        delimiter=getattr(data, "delimiter", None),
        header=getattr(data, "header", True),
        columns=tuple(columns) if columns else None,
        encoding=getattr(data, "encoding", None) or "utf-8",
    )


def not_text(exc: UnicodeDecodeError, path: object | None = None) -> str:
    """One line for a file that is not UTF-8 text, naming the first bad byte (and the file)."""
    where = f"{path} is" if path is not None else "the input is"
    bad = exc.object[exc.start : exc.start + 1]
    byte = f"byte {bad[0]:#04x}" if bad else "a byte"
    return (
        f"{where} not UTF-8 text (a binary or compressed file, or another encoding): {byte} at "
        f"position {exc.start}; declare its encoding in the experiment's data section "
        "(e.g. `encoding: cp1252`, Excel's on Windows), or save it as UTF-8 CSV or Parquet"
    )
