"""Telling what a table file is: its format (CSV, TSV, Parquet, JSON lines) and compression.

:func:`training.files.read_table` reads a file by what these say;
:class:`ReadOptions` carries what the experiment's data section declares instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
    """The declared format, else the one the extension names (after any compression suffix).

    Parameters
    ----------
    path
        A file, or a folder of Parquet files (as Spark writes a dataset).
    options
        The declared reading; its ``file_format`` wins over the extension.

    Returns
    -------
    str
        ``csv``, ``tsv``, ``parquet`` or ``jsonl``.

    Raises
    ------
    KizunaInputError
        For a name with no known extension, or a folder without Parquet files.
    """
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

    Parameters
    ----------
    path
        The file; only its first bytes are read (and a zip's listing).

    Returns
    -------
    str or None
        The compression's name as pandas takes it; None for a plain file.

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


def reading_options(data: object) -> ReadOptions:
    """The read settings of a ``DataConfig`` (duck-typed to keep this module config-free).

    Parameters
    ----------
    data
        An object with ``file_format``, ``delimiter``, ``header``, ``columns`` and
        ``encoding`` attributes; missing ones take the defaults.

    Returns
    -------
    ReadOptions
    """
    columns = getattr(data, "columns", None)
    return ReadOptions(
        file_format=getattr(data, "file_format", None),
        delimiter=getattr(data, "delimiter", None),
        header=getattr(data, "header", True),
        columns=tuple(columns) if columns else None,
        encoding=getattr(data, "encoding", None) or "utf-8",
    )
