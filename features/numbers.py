"""One rule for reading numbers written as text, for every table.

By default a number is written as Python and pandas read it: ``1234.5``. An
export from a European locale writes ``1.234,5`` or ``1234,5``; it declares
``decimal: ","`` (and ``thousands: "."`` when it groups digits). Under a
declared rule a value must be written that way throughout: a grouping
separator only between groups of three digits, so ``1.2`` under
``thousands: "."`` is unreadable, not twelve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pandas as pd

Decimal = Literal[".", ","]
Thousands = Literal[",", ".", " ", "'", "\u00a0", "\u202f"]


@dataclass(frozen=True)
class NumberRule:
    """How numbers are written in a text column.

    Attributes
    ----------
    decimal
        The decimal separator, ``"."`` or ``","``.
    thousands
        The digit-grouping separator, if the export groups digits (``","``,
        ``"."``, a space, ``"'"``, a no-break space); ``None`` if it does not.
    """

    decimal: Decimal = "."
    thousands: Thousands | None = None

    def __post_init__(self) -> None:
        if self.decimal not in (".", ","):
            raise ValueError(f"decimal must be '.' or ',', not {self.decimal!r}")
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(f"thousands and decimal are both {self.decimal!r}")

    @property
    def is_default(self) -> bool:
        """Numbers as pandas reads them (``1234.5``): no conversion needed."""
        return self.decimal == "." and self.thousands is None

    def describe(self) -> str:
        example = "1234" + self.decimal + "5"
        if self.thousands is not None:
            example = "1" + self.thousands + "234" + self.decimal + "5"
        return f"numbers written like {example}"

    def pattern(self) -> re.Pattern[str]:
        """The shape of one number under this rule (sign, digits, fraction, exponent).

        Returns
        -------
        re.Pattern
            Matches one whole number.
        """
        return re.compile(self.regex())

    def regex(self) -> str:
        """:meth:`pattern` as text, also valid as a Java regex (Spark's ``rlike``).

        ASCII digits only, as Java's ``\\d``: Python's would take other scripts' digits.

        Returns
        -------
        str
        """
        d = re.escape(self.decimal)
        digits = "[0-9]+"
        if self.thousands is not None:
            t = re.escape(self.thousands)
            digits = f"(?:[0-9]{{1,3}}(?:{t}[0-9]{{3}})+|[0-9]+)"
        return f"^[+-]?(?:{digits}(?:{d}[0-9]*)?|{d}[0-9]+)(?:[eE][+-]?[0-9]+)?$"


#: A value that starts with a zero and another digit: a code, not a number (also a Java regex).
LEADING_ZERO = "^[+-]?0[0-9]"
#: Ways of writing numbers that pandas does not read, most common first.
NUMBER_STYLES = tuple(
    NumberRule(d, t) for d, t in ((",", "."), (".", ","), (",", " "), (".", " "), (",", "'"))
) + (NumberRule(".", "'"), NumberRule(",", "\u00a0"), NumberRule(",", "\u202f"))


def parse_numbers(values: pd.Series, rule: NumberRule | None = None) -> pd.Series:
    """Parse a column to float64 under ``rule``; what does not parse becomes NaN.

    Parameters
    ----------
    values
        Shape (n,): numbers (taken as they are) or text.
    rule
        How text numbers are written; None: the default (``1234.5``).

    Returns
    -------
    pandas.Series
        Shape (n,), same index, float64.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    text = values.astype("string").str.strip()
    if rule is None or rule.is_default:
        return pd.to_numeric(text, errors="coerce").astype("float64")
    text = text.where(text.str.fullmatch(rule.pattern()).fillna(False).astype(bool))
    if rule.thousands is not None:
        text = text.str.replace(rule.thousands, "", regex=False)
    if rule.decimal != ".":
        text = text.str.replace(rule.decimal, ".", regex=False)
    parsed = pd.to_numeric(text, errors="coerce").astype("float64")
    if values.dtype == object:
        # Numbers already typed inside an object column are taken as they are,
        # not re-read as text under the rule.
        typed = values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        typed = typed.astype(bool)
        parsed[typed] = values[typed].astype("float64")
    return parsed


def style_hint(values: pd.Series) -> str:
    """The setting that reads ``values`` (text that failed as numbers), as a clause; '' if none.

    Parameters
    ----------
    values
        Text values that failed to read as numbers, shape (n,).

    Returns
    -------
    str
        A clause naming the setting, or ``''``.
    """
    text = values.astype("string").str.strip().dropna()
    for rule in NUMBER_STYLES:
        if len(text) and parse_numbers(text, rule).notna().all():
            setting = f"decimal: {rule.decimal!r}"
            if rule.thousands is not None:
                setting += f" and thousands: {rule.thousands!r}"
            return f"; they read as {rule.describe()}: set {setting} in the data section"
    return ""


def all_numbers(values: pd.Series, rule: NumberRule | None = None) -> bool:
    """A text column whose every non-blank value is a number under ``rule``.

    Values with a leading zero (``"01234"``) mark a code and keep the column text.

    Parameters
    ----------
    values
        A text column, shape (n,).
    rule
        How numbers are written (decimal comma, grouping); the default rule if None.

    Returns
    -------
    bool
    """
    if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        return False
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    if not present.any():
        return False
    if text[present].str.match(LEADING_ZERO).any():  # "01234": a code (postcode, id)
        return False
    return bool(parse_numbers(text[present], rule).notna().all())
