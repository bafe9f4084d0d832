"""The types of a text table's columns on Spark, as pandas would give them.

Spark's CSV reader gives text; pandas reads the whole column to choose a type.
A sample of the first rows (as many as pandas reads before it settles a type
for most files) gives each column's kind, and the casts here keep what pandas
would keep past the sample: a ``2.5`` after 100,000 whole numbers is kept, not
set aside, in the columns whose values are read as numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def as_sampled(
    frame: Any,
    sample: pd.DataFrame,
    string_columns: set[str],
    *,
    float_columns: set[str] | frozenset[str] = frozenset(),
    settle_integers: bool = False,
) -> tuple[Any, list[str]]:
    """``frame`` with each column cast to the type pandas gave it in ``sample``.

    A value past the sample that is not of its column's type (``NULL``, ``abc``
    in a number column) becomes missing, as pandas' reading and the validator
    make it, instead of failing the job (Spark 4's casts are strict).

    Parameters
    ----------
    frame
        Spark DataFrame of text columns, as the CSV reader gives them.
    sample
        The first rows as pandas reads them; their dtypes are the columns' kinds.
    string_columns
        Columns kept as text (ids: leading zeros stay).
    float_columns
        Columns whose values are parsed as float64 downstream (quantities,
        prices): one of whole numbers in the sample stays text here, for the
        caller to settle in a pass it makes anyway (:func:`settled_casts`).
    settle_integers
        Decide every other whole-number column over the whole table, with one
        aggregation: long when every value is a whole number (as pandas gives
        int64), else double (a fraction, ``5.0``, ``1e3`` or a blank past the
        sample, as pandas gives float64). For small tables (customers).

    Returns
    -------
    tuple
        The frame, and the ``float_columns`` left as text to settle.
    """
    from pyspark.sql import functions as F

    integers, pending = [], []
    casts = {}
    for col in frame.columns:
        dtype = sample[col].dtype if col in sample.columns else None
        if col in string_columns or dtype is None:
            casts[col] = F.col(col).cast("string")
        elif pd.api.types.is_bool_dtype(dtype):
            casts[col] = F.col(col).try_cast("boolean")
        elif pd.api.types.is_integer_dtype(dtype):
            casts[col] = F.col(col) if col in float_columns else F.col(col).try_cast("long")
            (pending if col in float_columns else integers).append(col)
        elif pd.api.types.is_numeric_dtype(dtype):
            casts[col] = F.col(col).try_cast("double")
        else:
            casts[col] = F.col(col)
    if settle_integers and integers:
        row = frame.agg(*not_whole(integers)).collect()[0]
        casts.update(settled_casts(integers, [row[f"__whole_{c}"] for c in integers]))
    return frame.select(*[casts[col].alias(col) for col in frame.columns]), pending


def not_whole(columns: list[str]) -> list[Any]:
    """Aggregations, one per text column, named ``__whole_<column>``: 1 when a value
    is not a whole number or is blank (pandas would read the column as float64)."""
    from pyspark.sql import functions as F

    return [
        F.max(F.col(c).try_cast("long").isNull().cast("int")).alias(f"__whole_{c}") for c in columns
    ]


def settled_casts(columns: list[str], flags: list[Any]) -> dict[str, Any]:
    """Each text column cast to double where its :func:`not_whole` flag is 1, else to long."""
    from pyspark.sql import functions as F

    return {c: F.col(c).try_cast("double" if f == 1 else "long") for c, f in zip(columns, flags)}
