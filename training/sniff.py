"""Looking at a user's export: how it is written and which columns play which role.

:func:`sniff` reads the start of a file (and the time column in full, for
the date range) and proposes the reading settings, the column map and the
split that ``kizuna init`` writes into an experiment file.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import TimestampRule, epoch_unit, parse_timestamps
from kizuna.training.files import ReadOptions, compression_of, not_text, read_delimited, read_table

SAMPLE_ROWS = 20_000
_DELIMITERS = ",\t;|"
# Name hints per role, matched against lower-cased names without separators.
_HINTS: dict[str, tuple[str, ...]] = {
    s.CUSTOMER_ID: ("customer", "cust", "user", "client", "member", "buyer", "account", "shopper"),
    s.ORDER_ID: ("invoice", "order", "transaction", "receipt", "basket", "txn", "ticket", "sale"),
    s.ITEM_ID: ("item", "product", "sku", "stock", "article", "movie", "isbn", "asin", "track"),
    s.TIMESTAMP: ("timestamp", "datetime", "date", "time", "when", "ts", "created", "purchased"),
    s.QUANTITY: ("quantity", "qty", "units", "count", "numberof", "amountof", "pieces"),
    s.UNIT_PRICE: ("unitprice", "price", "dollar", "amount", "value", "revenue", "cost", "spend"),
}
_DAY_MONTH = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")


@dataclass
class ColumnGuess:
    """What one column looks like: ``kind`` is id, number, integer, time or text."""

    name: str
    kind: str
    distinct: int
    examples: list[str]
    rule: TimestampRule | None = None


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


def sniff(path: Path) -> Proposal:
    """Propose how to read ``path`` and map it onto the transactions contract."""
    path = Path(path)
    if not path.exists():
        raise KizunaInputError(f"no such file: {path}")
    reading = _reading(path)
    try:
        sample = _sample(path, reading)
    except UnicodeDecodeError as exc:
        raise KizunaInputError(not_text(exc, path)) from None
    if reading.file_format != "parquet" and reading.header and _looks_headerless(sample):
        names = [f"column_{i + 1}" for i in range(sample.shape[1])]
        reading = ReadOptions(reading.file_format, reading.delimiter, False, tuple(names))
        sample = _sample(path, reading)
    guesses = [_guess(sample[c]) for c in sample.columns]
    column_map, notes = _roles(guesses, n_rows=len(sample))
    time_col = column_map[s.TIMESTAMP]
    guess = next(g for g in guesses if g.name == time_col)
    rule = guess.rule or TimestampRule()
    times = read_table(path, reading=reading, string_columns={time_col})[time_col]
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
    return Proposal(
        path, reading, guesses, column_map, rule, start, end, as_of, horizon, n_train, notes
    )


def _reading(path: Path) -> ReadOptions:
    compression = compression_of(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return ReadOptions(file_format="parquet")
    raw = _head_text(path, compression)
    first = raw.lstrip()[:1]
    if first == "{":
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


def _head_text(path: Path, compression: str | None, n_bytes: int = 65_536) -> str:
    import bz2
    import gzip
    import lzma

    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(compression or "", open)
    if compression in ("zip", "zstd"):
        frame = pd.read_csv(
            path, nrows=50, header=None, dtype=str, sep="\x1f", compression=compression
        )
        return "\n".join(frame[0].astype(str))
    with opener(path, "rb") as fh:
        data = fh.read(n_bytes)
    text = data.decode("utf-8", errors="replace")
    return text.rsplit("\n", 1)[0] if "\n" in text else text


def _sample(path: Path, reading: ReadOptions) -> pd.DataFrame:
    if reading.file_format == "parquet":
        return pd.read_parquet(path).head(SAMPLE_ROWS)
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
    )


def _looks_headerless(sample: pd.DataFrame) -> bool:
    """The 'header' is data when a name is a number, or most names parse like the values below."""
    names = [str(c).strip() for c in sample.columns]
    return any(re.fullmatch(r"[+-]?\d+(\.\d+)?", n) for n in names)


def _guess(values: pd.Series) -> ColumnGuess:
    text = values.astype("string").str.strip()
    present = text[text.notna() & (text != "")]
    distinct = int(present.nunique())
    examples = present.drop_duplicates().head(3).tolist()
    name = str(values.name)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return ColumnGuess(name, "time", distinct, examples, TimestampRule())
    if present.empty:
        return ColumnGuess(name, "text", 0, [])
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().mean() > 0.99:
        whole = bool((numbers.dropna() % 1 == 0).all())
        first = present.iloc[0].lstrip("+-").split(".")[0]
        if whole and len(first) == 8 and first[:2] in ("19", "20"):
            rule = TimestampRule(format="%Y%m%d")
            if parse_timestamps(present.head(200), rule).notna().all():
                return ColumnGuess(name, "time", distinct, examples, rule)
        unit = epoch_unit(numbers.to_numpy(dtype=float)) if whole else None
        if unit is not None and distinct > 1 and _time_name(name):
            return ColumnGuess(name, "time", distinct, examples, TimestampRule(epoch=unit))
        if unit is not None and numbers.min() > 1e8:
            return ColumnGuess(name, "time", distinct, examples, TimestampRule(epoch=unit))
        return ColumnGuess(name, "integer" if whole else "number", distinct, examples)
    rule = _date_rule(present.head(2000))
    if rule is not None:
        return ColumnGuess(name, "time", distinct, examples, rule)
    return ColumnGuess(name, "text", distinct, examples)


def _total_name(name: str) -> bool:
    """A money column named like a total (amount, value, revenue, ...), not a unit price."""
    key = re.sub(r"[^a-z]", "", name.lower())
    unit = any(h in key for h in ("price", "unit", "each", "per"))
    return not unit and any(
        h in key for h in ("total", "dollar", "amount", "value", "revenue", "spend", "sales", "sum")
    )


def _time_name(name: str) -> bool:
    key = re.sub(r"[^a-z]", "", name.lower())
    return any(h in key for h in _HINTS[s.TIMESTAMP])


def _date_rule(text: pd.Series) -> TimestampRule | None:
    """ISO text, or day/month text with the order the values show (None: not dates)."""
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)  # mixed offsets
    if iso.notna().mean() > 0.95 and not text.str.fullmatch(r"\d+").all():
        return TimestampRule()
    parts = text.str.extract(_DAY_MONTH).dropna()
    if len(parts) < 0.95 * len(text):
        return None
    first, second = parts[0].astype(int), parts[1].astype(int)
    if (first > 12).any() and not (second > 12).any():
        return TimestampRule(dayfirst=True)
    if (second > 12).any() and not (first > 12).any():
        return TimestampRule(dayfirst=False)
    return TimestampRule(dayfirst=None)  # undecidable: validation will say which setting to add


def _roles(guesses: list[ColumnGuess], *, n_rows: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Assign each canonical role a column by name hints, then by type; fill gaps with constants."""
    notes: dict[str, str] = {}
    taken: set[str] = set()
    out: dict[str, Any] = {}

    def score(role: str, g: ColumnGuess) -> int:
        key = re.sub(r"[^a-z]", "", g.name.lower())
        hits = [h for h in _HINTS[role] if h in key]
        if not hits:
            return 0
        fits = {
            s.TIMESTAMP: g.kind == "time",
            s.QUANTITY: g.kind in ("integer", "number"),
            s.UNIT_PRICE: g.kind in ("integer", "number"),
        }.get(role, g.kind in ("integer", "text", "number"))
        return (2 if fits else 0) + (1 if key.endswith(("id", "no", "code")) else 0) + len(hits)

    for role in (s.TIMESTAMP, s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.QUANTITY, s.UNIT_PRICE):
        ranked = sorted(
            (g for g in guesses if g.name not in taken and score(role, g) >= 2),
            key=lambda g: -score(role, g),
        )
        if ranked:
            out[role] = ranked[0].name
            taken.add(ranked[0].name)
    if s.TIMESTAMP not in out:
        times = [g for g in guesses if g.kind == "time" and g.name not in taken]
        if not times:
            raise KizunaInputError(
                "found no column of dates or Unix times; kizuna needs when each purchase happened"
            )
        out[s.TIMESTAMP] = times[0].name
        taken.add(times[0].name)
    # Unnamed ids: the many-valued integer or text columns, in file order.
    for role in (s.CUSTOMER_ID, s.ITEM_ID):
        if role in out:
            continue
        ids = [
            g
            for g in guesses
            if g.name not in taken and g.kind in ("integer", "text") and g.distinct > 20
        ]
        if not ids and role == s.ITEM_ID:
            out[role] = {"value": "item"}  # a purchase log without products (CDNOW)
            notes[role] = "no item column: every line is one item 'item'; no recommender"
            continue
        if not ids:
            raise KizunaInputError(f"found no column that could be the {role}")
        out[role] = ids[0].name
        taken.add(ids[0].name)
        notes[role] = f"{ids[0].name} chosen by position and type"
    if s.ORDER_ID not in out:
        out[s.ORDER_ID] = f"{{{out[s.CUSTOMER_ID]}}}-{{{out[s.TIMESTAMP]}}}"
        notes[s.ORDER_ID] = "no order id: one order per customer and timestamp"
    if s.QUANTITY not in out:
        out[s.QUANTITY] = 1
        notes[s.QUANTITY] = "no quantity: every line counts as one unit"
    if s.UNIT_PRICE not in out:
        out[s.UNIT_PRICE] = 1
        notes[s.UNIT_PRICE] = "no price: every unit is worth 1 (value models count purchases)"
    elif _total_name(out[s.UNIT_PRICE]) and isinstance(out[s.QUANTITY], str):
        notes[s.UNIT_PRICE] = (
            f"{out[s.UNIT_PRICE]} may be the line's total, not a unit price: if so, set "
            "`quantity: 1`, or revenue counts it once per unit"
        )
    order = (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID, s.TIMESTAMP, s.QUANTITY, s.UNIT_PRICE)
    return {k: out[k] for k in order}, notes


def _split(start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
    """Horizon (days) and number of training snapshots that fit the data's span."""
    span = max((end - start).days, 1)
    horizon = int(min(90, max(7, span // 6)))
    n_train = int(np.clip(span // horizon - 3, 1, 3))
    return horizon, n_train


def describe(proposal: Proposal) -> str:
    """One line per column: its kind and examples, for the YAML's comments."""
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
