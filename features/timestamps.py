"""One rule for reading timestamps, for files and for ``/events`` alike.

ISO 8601 text by default. An export in another shape declares it:
``timestamp_format`` (strftime), ``dayfirst`` for ``05/02/2024``-style text,
or ``epoch: s | ms`` for Unix times. Day/month text that the data cannot
settle is refused with examples and the setting to use, never guessed.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError

_DAY_MONTH = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")
_DIGITS = re.compile(r"^[+-]?\d+(\.\d+)?$")


@dataclass(frozen=True)
class TimestampRule:
    """How a timestamp column is written.

    Attributes
    ----------
    format
        strftime format of every value, e.g. ``"%d.%m.%Y %H:%M"``.
    dayfirst
        For ``a/b/yyyy`` text: ``True`` reads ``a`` as the day, ``False`` as the
        month; ``None`` (not declared) lets the data decide and fails if it cannot.
    epoch
        ``"s"`` or ``"ms"``: the values are Unix times in that unit (UTC).
    """

    format: str | None = None
    dayfirst: bool | None = None
    epoch: Literal["s", "ms"] | None = None

    def describe(self) -> str:
        if self.epoch:
            return f"Unix epoch {'seconds' if self.epoch == 's' else 'milliseconds'}"
        if self.format:
            return f"format {self.format!r}"
        if self.dayfirst is None:
            return "ISO 8601 text"
        return "day first (31/12/2024)" if self.dayfirst else "month first (12/31/2024)"


DEFAULT_RULE = TimestampRule()


def parse_timestamps(
    values: pd.Series, rule: TimestampRule = DEFAULT_RULE, *, column: str = "timestamp"
) -> pd.Series:
    """Parse a column to naive UTC ``datetime64[ns]`` under ``rule``; unreadable -> NaT.

    Parameters
    ----------
    values
        Shape (n,): text, numbers (with ``rule.epoch``) or datetimes.
    rule
        How the column is written.
    column
        Named in errors.

    Returns
    -------
    pandas.Series
        Shape (n,), same index, ``datetime64[ns]``.

    Raises
    ------
    KizunaInputError
        Numbers without ``epoch``, or day/month text that the data cannot settle.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _ns(values.dt.tz_convert("UTC").dt.tz_localize(None))
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _ns(values)
    if rule.epoch is not None:
        number = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
        out = pd.to_datetime(number.astype("float64"), unit=rule.epoch, errors="coerce")
        return _ns(pd.Series(out, index=values.index))
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    if rule.format is not None:
        out = pd.to_datetime(text, format=rule.format, errors="coerce", utc=True)
        return _ns(out.dt.tz_localize(None))
    _refuse_numbers(values, text, column)
    out = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    retry = out.isna() & text.notna()
    if retry.any():
        dayfirst = _day_first(text[retry], rule.dayfirst, column)
        out[retry] = _in_ns_range(_parse_other(text[retry], dayfirst))
    return _ns(out.dt.tz_localize(None))


def _in_ns_range(stamps: pd.Series) -> pd.Series:
    """UTC ``stamps`` with those outside ``datetime64[ns]``'s range (a year 2300) as NaT, so
    that they can join a nanosecond column (one value with nanoseconds makes it one)."""
    low, high = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    return stamps.where((stamps >= low) & (stamps <= high))


def _ns(stamps: pd.Series) -> pd.Series:
    """``datetime64[ns]``; an instant outside its range (before 1677 or after 2262, e.g. a
    placeholder 9999-12-31) is unreadable: NaT, set aside, not an overflow error."""
    if stamps.dtype != "datetime64[ns]":
        stamps = stamps.where((stamps >= pd.Timestamp.min) & (stamps <= pd.Timestamp.max))
    return stamps.astype("datetime64[ns]")


def parse_timestamp_value(value: Any, rule: TimestampRule = DEFAULT_RULE) -> datetime:
    """Parse one value under ``rule`` (the ``/events`` path); raises ``ValueError``.

    Parameters
    ----------
    value
        A timestamp as text, number or datetime.
    rule
        How it is written.

    Returns
    -------
    datetime.datetime
        As the rule reads it (naive UTC for an aware value).
    """
    try:
        parsed = parse_timestamps(pd.Series([value], dtype=object), rule)
    except KizunaInputError as exc:
        raise ValueError(str(exc)) from None
    if pd.isna(parsed.iloc[0]):
        raise ValueError(f"cannot read {value!r} as {rule.describe()}")
    return parsed.iloc[0].to_pydatetime()


def _refuse_numbers(values: pd.Series, text: pd.Series, column: str) -> None:
    """Numbers are not ISO text: name the settings that read them instead of guessing."""
    present = text.dropna()
    if present.empty:
        return
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    )
    sample = present.head(1000)
    if not numeric and not sample.str.fullmatch(_DIGITS.pattern).all():
        return
    examples = ", ".join(present.head(3).tolist())
    first = present.iloc[0].split(".")[0].lstrip("+-")
    numbers = pd.to_numeric(sample, errors="coerce").to_numpy(dtype=float)
    unit = epoch_unit(numbers)
    if len(first) == 8 and first[:2] in ("19", "20"):
        hint = 'probably `timestamp_format: "%Y%m%d"`'
    elif unit is not None:
        hint = f"probably `epoch: {unit}`"
    elif np.nanmin(numbers) >= EXCEL_DAYS[0] and np.nanmax(numbers) <= EXCEL_DAYS[1]:
        raise KizunaInputError(
            f"holds numbers (e.g. {examples}) that look like Excel's serial dates (days "
            "since 1899-12-30), which kizuna does not read: format the column as dates "
            "in Excel (e.g. yyyy-mm-dd hh:mm) before saving the CSV",
            column=column,
        )
    else:
        hint = "no Unix unit puts them between 1990 and 2100; check the column map"
    raise KizunaInputError(
        f"holds numbers (e.g. {examples}), not ISO 8601 dates; declare how they are written "
        f"in the experiment's data section, {hint} "
        "(settings: epoch: s | ms, timestamp_format: <strftime>, dayfirst: true | false)",
        column=column,
    )


#: Excel's serial day numbers of 1954-2119 (and their fractions of a day).
EXCEL_DAYS = (20_000, 80_000)


def _day_first(text: pd.Series, declared: bool | None, column: str) -> bool:
    """Decide how ``a/b/yyyy`` text is ordered; fail when the data cannot tell."""
    parts = text.str.extract(_DAY_MONTH)
    parts = parts.dropna()
    if parts.empty:
        return bool(declared)
    first = parts[0].astype(int).to_numpy()
    second = parts[1].astype(int).to_numpy()
    first_is_day = bool((first > 12).any())
    second_is_day = bool((second > 12).any())
    if declared is not None:
        bad = (second > 12) if declared else (first > 12)
        if bad.any():
            examples = ", ".join(text.loc[parts.index[bad]].head(3).tolist())
            raise KizunaInputError(
                f"dayfirst: {str(declared).lower()} is declared, but some dates have a "
                f"{'month' if declared else 'day'} above 12 (e.g. {examples})",
                column=column,
            )
        return declared
    if first_is_day and not second_is_day:
        return True
    if second_is_day and not first_is_day:
        return False
    examples = ", ".join(text.loc[parts.index].head(3).tolist())
    why = (
        "both orders occur in the data"
        if first_is_day
        else "no value has a part above 12, so day and month cannot be told apart"
    )
    raise KizunaInputError(
        f"has day/month dates (e.g. {examples}) and {why}; declare the order in the "
        "experiment's data section: `dayfirst: true` (05/02/2024 is 5 February) or "
        '`dayfirst: false` (May 2), or an exact `timestamp_format: "%d/%m/%Y %H:%M"`',
        column=column,
    )


def _parse_other(text: pd.Series, dayfirst: bool) -> pd.Series:
    """Parse non-ISO text: one guessed format for the column, per-value only for the rest."""
    from pandas.tseries.api import guess_datetime_format

    fmt = guess_datetime_format(str(text.iloc[0]), dayfirst=dayfirst)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if fmt is not None:
        out = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    rest = out.isna()
    if rest.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out[rest] = _in_ns_range(
                pd.to_datetime(
                    text[rest], format="mixed", errors="coerce", utc=True, dayfirst=dayfirst
                )
            )
    return out


def epoch_unit(values: np.ndarray) -> Literal["s", "ms"] | None:
    """The Unix unit that puts numbers between 1990 and 2100, if one does. Shape (n,).

    Parameters
    ----------
    values
        Numbers, shape (n,).

    Returns
    -------
    ``"s"``, ``"ms"`` or None
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    for unit, scale in (("s", 1.0), ("ms", 1e3)):
        if 631_152_000 * scale <= lo and hi <= 4_102_444_800 * scale:
            return unit
    return None


def naive_utc(value: Any) -> pd.Timestamp | None:
    """An instant a user gave (``--as-of``, ``--now``, ``--since``: text or datetime) as naive
    UTC, the clock of every stored time; an aware value (``...+09:00``, ``Z``) is converted.
    None stays None.

    Parameters
    ----------
    value
        Text, a datetime, or None.

    Returns
    -------
    pandas.Timestamp or None
    """
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def utc_now() -> pd.Timestamp:
    """The current instant as naive UTC: the clock of every stored time (events are
    converted to it), whatever the machine's time zone.

    Returns
    -------
    pandas.Timestamp
        Naive, in UTC.
    """
    return pd.Timestamp.now(tz="UTC").tz_localize(None)
