"""The types of a text table's columns on Spark, as pandas would give them.

Spark's CSV reader gives text; pandas reads the whole column to choose a type.
The first rows (a sample read by pandas) say which columns are numbers, but
pandas would change its mind over the rest of the file: a ``2.5`` after
whole numbers makes the column float, a ``web`` makes it text, a blank makes
whole numbers float. So the number columns stay text here, and one aggregation
over the whole table (:func:`type_flags`, folded into a pass the caller makes
anyway) settles each as long, double or text (:func:`settled_columns`). The
same holds for the day/month order of ``a/b/yyyy`` timestamps
(:func:`settled_rule`); and the sample says when quoted fields span lines
(:func:`has_line_breaks`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kizuna.training.files import MISSING_WORDS

#: Sampled kinds of the columns to settle.
WHOLE, FLOAT = "whole", "float"


def as_sampled(
    frame: Any,
    sample: pd.DataFrame,
    string_columns: set[str],
    *,
    missing_words: bool = False,
    settle_now: bool = False,
) -> tuple[Any, dict[str, str]]:
    """``frame`` with its columns as pandas would type them, the number columns left to settle.

    Parameters
    ----------
    frame
        Spark DataFrame of text columns, as the CSV or JSON reader gives them.
    sample
        The first rows as pandas reads them; their dtypes are the columns' kinds.
    string_columns
        Columns kept as text (ids: leading zeros stay; only a blank is missing).
    missing_words
        pandas' words for a missing value (``NA``, ``NULL``, ``nan``, ...) are
        missing in the other columns, as pandas' CSV reader makes them.
    settle_now
        Settle the number columns here, with an aggregation of their own (for
        small tables: customers); else the caller settles them in its pass.

    Returns
    -------
    tuple
        The frame, and ``{column: kind}`` of the columns still text to settle
        (empty after ``settle_now``).
    """
    from pyspark.sql import functions as F

    casts, pending = {}, {}
    words = [w for w in MISSING_WORDS if w]  # a blank is null in Spark's reader already
    for col in frame.columns:
        dtype = sample[col].dtype if col in sample.columns else None
        value = F.col(col)
        if col in string_columns or dtype is None:
            casts[col] = value.cast("string")
            continue
        if missing_words:
            value = F.when(value.cast("string").isin(words), F.lit(None)).otherwise(value)
        if pd.api.types.is_bool_dtype(dtype):
            casts[col] = value.try_cast("boolean")
        elif pd.api.types.is_integer_dtype(dtype):
            casts[col], pending[col] = value.cast("string"), WHOLE
        elif pd.api.types.is_float_dtype(dtype):  # an all-blank sample too: text may follow
            casts[col], pending[col] = value.cast("string"), FLOAT
        else:
            casts[col] = value
    frame = frame.select(*[casts[col].alias(col) for col in frame.columns])
    if settle_now and pending:
        row = frame.agg(*type_flags(pending)).collect()[0]
        return frame.select(*settled_columns(frame, pending, [row])), {}
    return frame, pending


def type_flags(pending: dict[str, str]) -> list[Any]:
    """Aggregations that say how pandas would type each pending column over the whole table:
    ``__text_<c>`` (a value that is no number), ``__frac_<c>`` (a value that is no
    whole number, or a blank), each 0 or 1.

    Parameters
    ----------
    pending
        Column -> its pandas type still to settle.

    Returns
    -------
    list of pyspark.sql.Column
    """
    from pyspark.sql import functions as F

    out = []
    for c in pending:
        col = F.col(c)
        out.append(
            F.max((col.isNotNull() & col.try_cast("double").isNull()).cast("int")).alias(
                f"__text_{c}"
            )
        )
        out.append(F.max(col.try_cast("long").isNull().cast("int")).alias(f"__frac_{c}"))
    return out


def settled_columns(frame: Any, pending: dict[str, str], rows: list[Any]) -> list[Any]:
    """``frame``'s columns with each pending one cast as the :func:`type_flags` of ``rows``
    (one row per part of the table, combined) say: text, double or long.

    Parameters
    ----------
    frame
        A Spark DataFrame.
    pending
        Column -> its pandas type still to settle.
    rows
        The :func:`type_flags` rows of each part.

    Returns
    -------
    list of pyspark.sql.Column
    """
    from pyspark.sql import functions as F

    def flag(name: str) -> bool:
        return any((r[name] or 0) == 1 for r in rows)

    out = []
    for c in frame.columns:
        if c not in pending or flag(f"__text_{c}"):
            out.append(F.col(c))  # a word among the numbers: pandas keeps the column as text
        elif pending[c] == FLOAT or flag(f"__frac_{c}"):
            out.append(F.col(c).try_cast("double").alias(c))
        else:
            out.append(F.col(c).try_cast("long").alias(c))
    return out


def settled_rule(frame: Any, rule: Any, column: str | None) -> Any:
    """``rule`` with the day/month order that the whole column settles, for every shard.

    The pandas engine lets the data decide the order of ``a/b/yyyy`` text
    when the experiment does not say (:func:`features.timestamps.parse_timestamps`);
    a shard sees only its customers, so the decision is taken here, over the
    whole column, and each shard gets it declared. When the whole column does
    not settle it, the pandas function refuses on the values that show why.

    Parameters
    ----------
    frame
        A Spark DataFrame.
    rule
        The timestamp rule.
    column
        The timestamp column, or None.

    Returns
    -------
    TimestampRule
    """
    import dataclasses

    from pyspark.sql import functions as F

    from kizuna.features.timestamps import parse_timestamps

    if rule.format or rule.epoch or rule.dayfirst is not None or column not in frame.columns:
        return rule
    if dict(frame.dtypes)[column] != "string":
        return rule
    pattern = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b"
    text = F.col(column)
    first = F.regexp_extract(text, pattern, 1)
    second = F.regexp_extract(text, pattern, 2)
    matched = frame.filter(first != "")
    row = matched.agg(
        F.max((first.cast("int") > 12).cast("int")).alias("first"),
        F.max((second.cast("int") > 12).cast("int")).alias("second"),
    ).collect()[0]
    if row["first"] is None:  # no day/month text: nothing to settle
        return rule
    first_is_day, second_is_day = bool(row["first"]), bool(row["second"])
    if first_is_day != second_is_day:
        return dataclasses.replace(rule, dayfirst=first_is_day)
    # Not settled: the values that show why, refused by the pandas engine's function.
    shown = matched.limit(3).select(column).toPandas()[column]
    for cond in (first.cast("int") > 12, second.cast("int") > 12):
        shown = pd.concat([shown, matched.filter(cond).limit(1).select(column).toPandas()[column]])
    parse_timestamps(shown.reset_index(drop=True), rule, column=column)
    return rule


def has_line_breaks(sample: pd.DataFrame) -> bool:
    """Whether a text value of ``sample`` holds a line break (a quoted field over two lines).

    Parameters
    ----------
    sample
        Some rows of the file.

    Returns
    -------
    bool
    """
    for col in sample.columns:
        values = sample[col]
        if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            if values.astype("string").str.contains("[\r\n]", regex=True).fillna(False).any():
                return True
    return False
