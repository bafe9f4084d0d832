"""Looking at a user's export: how it is written and which columns play which role.

:func:`sniff` reads the start of a file (and the time column in full, for
the date range) and proposes the reading settings, the column map and the
split that ``kizuna init`` writes into an experiment file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.numbers import NumberRule, parse_numbers
from kizuna.features.timestamps import TimestampRule, parse_timestamps
from kizuna.training.file_kinds import ReadOptions, compression_of, file_format_of
from kizuna.training.files import not_text, read_delimited, read_parquet_file, read_table
from kizuna.training.sniff_columns import (
    DAY_MONTH,
    ISO_DATE,
    ColumnGuess,
    guess_column,
    number_rule_of,
    propose_map,
)

SAMPLE_ROWS = 20_000
_DELIMITERS = ",\t;|"


@dataclass
class Proposal:
    """Everything ``kizuna init`` writes: reading settings, map, time rule and split."""

    path: Path
    reading: ReadOptions
    columns: list[ColumnGuess]
    column_map: dict[str, Any]
    rule: TimestampRule
    start: pd.Timestamp
    end: pd.Timestamp
    as_of: pd.Timestamp
    horizon_days: int
    train_snapshots: int
    notes: dict[str, str] = field(default_factory=dict)  # canonical column -> what to check
    #: How numbers are written when pandas would not read them (``1.234,5``); None: it does.
    numbers: NumberRule | None = None
    numbers_note: str | None = None


def sniff(path: Path) -> Proposal:
    """Propose how to read ``path`` and map it onto the transactions contract.

    Parameters
    ----------
    path
        The transactions file.

    Returns
    -------
    Proposal
    """
    path = Path(path)
    if not path.exists():
        raise KizunaInputError(f"no such file: {path}")
    # A folder is read as a Parquet dataset (or named for what it lacks).
    reading = ReadOptions(file_format_of(path)) if path.is_dir() else _reading(path)
    sample, reading = _read_text(path, reading, lambda r: _sample(path, r))
    if reading.file_format != "parquet" and reading.header and _looks_headerless(sample):
        names = [f"column_{i + 1}" for i in range(sample.shape[1])]
        reading = dataclasses.replace(reading, header=False, columns=tuple(names))
        sample = _sample(path, reading)
    if sample.empty:
        raise KizunaInputError(f"{path} has no data rows, only column names")
    guesses = [guess_column(sample[c]) for c in sample.columns]
    column_map, notes = propose_map(guesses, n_rows=len(sample))
    time_col = column_map[s.TIMESTAMP]
    guess = next(g for g in guesses if g.name == time_col)
    rule = guess.rule or TimestampRule()
    # The whole column: a byte past the sample's rows may show the file is not UTF-8.
    times, reading = _read_text(
        path, reading, lambda r: read_table(path, reading=r, string_columns={time_col})[time_col]
    )
    try:
        parsed = parse_timestamps(times, rule, column=time_col).dropna()
    except KizunaInputError:
        if rule.dayfirst is not None or rule.format or rule.epoch:
            raise
        # Day and month cannot be told apart: the file is written without the setting (so
        # validation names it), and either order gives the date range for the split.
        parsed = parse_timestamps(times, TimestampRule(dayfirst=True), column=time_col).dropna()
        notes[s.TIMESTAMP] = "day and month cannot be told apart: add dayfirst: true or false"
    if parsed.empty:
        raise KizunaInputError(f"column {time_col!r} holds no readable timestamps", column=time_col)
    start, end = parsed.min(), parsed.max()
    horizon, n_train = _split(start, end)
    as_of = (end - pd.Timedelta(days=horizon)).normalize() + pd.Timedelta(days=1)
    number_cols = [c for c in (column_map[s.QUANTITY], column_map[s.UNIT_PRICE]) if c in sample]
    numbers, numbers_note = number_rule_of([g for g in guesses if g.name in number_cols])
    for col in number_cols if numbers is not None else ():
        if parse_numbers(sample[col].dropna(), numbers).isna().mean() > 0.01:
            numbers_note = f"{col} does not read as {numbers.describe()}: one style per file"
    return Proposal(
        path,
        reading,
        guesses,
        column_map,
        rule,
        start,
        end,
        as_of,
        horizon,
        n_train,
        notes,
        numbers,
        numbers_note,
    )


#: The encoding proposed for text that is not UTF-8: Excel's on Windows, which also
#: reads Latin-1 text for every letter Western European exports use.
LEGACY_ENCODING = "cp1252"


def _read_text(path: Path, reading: ReadOptions, read: Any) -> tuple[Any, ReadOptions]:
    """``read(reading)`` and the settings it took: a file that is not UTF-8 text is read
    again as :data:`LEGACY_ENCODING` (Excel's on Windows: a guess, marked CHECK)."""
    try:
        return read(reading), reading
    except UnicodeDecodeError as exc:
        if (
            reading.file_format == "parquet"
            or reading.encoding != "utf-8"
            or not _legacy_text(path)
        ):
            raise KizunaInputError(not_text(exc, path)) from None
        legacy = dataclasses.replace(reading, encoding=LEGACY_ENCODING)
        return read(legacy), legacy


def _legacy_text(path: Path) -> bool:
    """Whether the file's start reads as :data:`LEGACY_ENCODING` text (no NUL bytes: not binary)."""
    head = _head_bytes(path, compression_of(path))
    if head is None or b"\x00" in head:
        return False
    try:
        head.decode(LEGACY_ENCODING)
    except UnicodeDecodeError:
        return False
    return True


def _reading(path: Path) -> ReadOptions:
    compression = compression_of(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return ReadOptions(file_format="parquet")
    raw = _head_text(path, compression)
    first = raw.lstrip()[:1]
    if first in ("{", "["):  # JSON lines, or one array of records (read_table reads both)
        return ReadOptions(file_format="jsonl")
    lines = [line for line in raw.splitlines() if line.strip()][:50]
    if not lines:
        raise KizunaInputError(f"{path} is empty")
    counts = {d: lines[0].count(d) for d in _DELIMITERS}
    widths = {len(line.split()) for line in lines}
    if not max(counts.values()) and len(widths) == 1 and widths.pop() > 1:
        delimiter = r"\s+"  # columns aligned with runs of spaces (CDNOW, fixed-width dumps)
    else:
        try:
            delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
        except csv.Error:
            delimiter = max(counts, key=counts.get) if max(counts.values()) else ","
    kind = "tsv" if delimiter == "\t" else "csv"
    return ReadOptions(file_format=kind, delimiter=None if delimiter in ",\t" else delimiter)


def _head_bytes(path: Path, compression: str | None, n_bytes: int = 65_536) -> bytes | None:
    """The first bytes of the (decompressed) file; None for zip and zstd."""
    import bz2
    import gzip
    import lzma

    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(compression or "", open)
    if compression in ("zip", "zstd"):
        return None
    with opener(path, "rb") as fh:
        return fh.read(n_bytes)


def _head_text(path: Path, compression: str | None, n_bytes: int = 65_536) -> str:
    data = _head_bytes(path, compression, n_bytes)
    if data is None:
        frame = pd.read_csv(
            path, nrows=50, header=None, dtype=str, sep="\x1f", compression=compression
        )
        return "\n".join(frame[0].astype(str))
    text = data.decode("utf-8", errors="replace")
    return text.rsplit("\n", 1)[0] if "\n" in text else text


def _sample(path: Path, reading: ReadOptions) -> pd.DataFrame:
    if reading.file_format == "parquet":
        return read_parquet_file(path).head(SAMPLE_ROWS)
    if reading.file_format == "jsonl":
        return read_table(path, reading=reading).head(SAMPLE_ROWS).astype("string")
    sep = reading.delimiter or ("\t" if reading.file_format == "tsv" else ",")
    return read_delimited(
        path,
        sep=sep,
        header=reading.header,
        names=list(reading.columns) if reading.columns else None,
        nrows=SAMPLE_ROWS,
        dtype="string",
        encoding=reading.encoding,
    )


def _looks_headerless(sample: pd.DataFrame) -> bool:
    """The 'header' is data when a name is a number or a date."""
    names = [str(c).strip() for c in sample.columns]
    return any(
        re.fullmatch(r"[+-]?\d+(\.\d+)?", n) or DAY_MONTH.match(n) or ISO_DATE.match(n)
        for n in names
    )


def _split(start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
    """Horizon (days) and number of training snapshots that fit the data's span."""
    span = max((end - start).days, 1)
    horizon = int(min(90, max(7, span // 6)))
    n_train = int(np.clip(span // horizon - 3, 1, 3))
    return horizon, n_train


def describe(proposal: Proposal) -> str:
    """One line per column: its kind and examples, for the YAML's comments.

    Parameters
    ----------
    proposal
        What :func:`sniff` proposed.

    Returns
    -------
    str
    """
    buf = io.StringIO()
    for g in proposal.columns:
        rule = f", {g.rule.describe()}" if g.rule is not None else ""
        examples = ", ".join(_one_line(str(e)) for e in g.examples)
        buf.write(f"#   {_one_line(g.name)}: {g.kind}{rule}, e.g. {examples}\n")
    return buf.getvalue()


def _one_line(text: str, limit: int = 60) -> str:
    """``text`` fit for a YAML comment: a value's line breaks would end the comment."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
