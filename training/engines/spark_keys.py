"""The shard key of a line: its customer id as the validator cleans it.

Every line of a customer must reach one shard, and the customers table's row
must reach that shard too, so lines and table are partitioned on the cleaned
id (:func:`features.contract.ids_to_str`: trimmed text, blank as missing, a
whole float such as ``17850.0`` as ``"17850"``), never on the raw value:

* a text or integer column: :func:`cleaned_text`, a Spark expression that
  strips what pandas' ``str.strip`` strips, so nothing crosses to Python;
* a floating-point or decimal column (Online Retail's ``CustomerID``): that
  one column goes through ``ids_to_str`` in a pandas UDF;
* an id built by the column map from an expression or several columns: the
  format adapter builds it per batch, then ``ids_to_str`` (one more pass over
  the lines, only for such sources): ``"{a}{b}"`` gives ``"123"`` for
  ``1``/``23`` and for ``12``/``3``, one customer whatever the raw columns say.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.training.engines.spark_io import ROW, SparkRaw
from kizuna.training.engines.spark_session import arrow_safe

ID_KEY = "__id"  # the cleaned customer id, text
_AS_TEXT_ALREADY = ("string", "tinyint", "smallint", "int", "bigint")
#: What ``str.strip`` removes (the characters for which ``str.isspace`` holds),
#: as pandas strips ids.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def clean_ids(values: pd.Series) -> pd.Series:
    """:func:`features.contract.ids_to_str` in the layout pyspark's Arrow writer takes.

    Parameters
    ----------
    values
        Ids, shape (n,).

    Returns
    -------
    pandas.Series
        Shape (n,), text (None when missing).
    """
    from kizuna.features.contract import ids_to_str

    out = ids_to_str(values)
    return out.astype(object).where(out.notna(), None)


def cleaned_text(col: Any) -> Any:
    """Spark column: ``col`` as text, stripped as ``ids_to_str`` strips it; blank as null.

    Parameters
    ----------
    col
        A Spark column.

    Returns
    -------
    pyspark.sql.Column
    """
    from pyspark.sql import functions as F

    from kizuna.features.contract import WHOLE_FLOAT

    text = col.cast("string")
    # Most ids start and end with a printable character: they are taken as they are,
    # without trimming every row of the set of whitespace (3x the CPU at 10M lines).
    first, last = F.ascii(text), F.ascii(F.substring(text, -1, 1))
    plain = first.between(33, 0x84) & last.between(33, 0x84)
    out = F.when(plain, text).otherwise(F.nullif(F.btrim(text, F.lit(WHITESPACE)), F.lit("")))
    # A whole float written as text (17850.0) is the customer 17850, as ids_to_str reads
    # it; only ids with a dot pay for the pattern.
    whole = F.regexp_replace(out, WHOLE_FLOAT, "$1")
    return F.when(F.instr(out, ".") > 0, whole).otherwise(out)


def id_text(frame: Any, column: str) -> Any:
    """Spark column: ``column`` of ``frame`` as the cleaned id (text; null when missing).

    Parameters
    ----------
    frame
        A Spark DataFrame.
    column
        Its id column.

    Returns
    -------
    pyspark.sql.Column
    """
    from pyspark.sql import functions as F

    if _text_already(frame, column):
        return cleaned_text(F.col(column))
    return F.pandas_udf(clean_ids, "string")(F.col(column))  # type: ignore[call-overload]


def _text_already(frame: Any, column: str) -> bool:
    return dict(frame.dtypes)[column] in _AS_TEXT_ALREADY


def customer_key(raw: SparkRaw) -> tuple[SparkRaw, Any]:
    """``raw`` (with :data:`ID_KEY` added where the id needs Python) and the Spark
    column of each line's cleaned customer id (null: no id), to partition on.

    A text or integer id column is cleaned by a Spark expression, evaluated
    where the lines are partitioned (no extra column crosses the shuffle).

    Parameters
    ----------
    raw
        The raw lines read on Spark, with their reading options.

    Returns
    -------
    raw : SparkRaw
    key : pyspark.sql.Column
    """
    from pyspark.sql import functions as F

    if raw.id_key:
        return raw, F.col(raw.customer_col)
    if raw.direct_customer and _text_already(raw.frame, raw.customer_col):
        return raw, cleaned_text(F.col(raw.customer_col))
    keyed = with_id_key(raw)
    return keyed, F.col(keyed.customer_col)


def with_id_key(raw: SparkRaw) -> SparkRaw:
    """``raw`` whose ``customer_col`` holds the cleaned customer id (``raw`` itself if it does).

    Returns a :class:`SparkRaw` with ``id_key`` set; its ``customer_col``
    is the customer id the validator will see (null when it has none).

    Parameters
    ----------
    raw
        The raw lines read on Spark, with their reading options.

    Returns
    -------
    SparkRaw
    """
    from pyspark.sql.types import StringType, StructField, StructType

    if raw.id_key:
        return raw
    if raw.direct_customer:
        return _keyed(raw, raw.frame.withColumn(ID_KEY, id_text(raw.frame, raw.customer_col)))
    frame, adapter = raw.frame, raw.adapter
    source_cols = [c for c in frame.columns if c != ROW]

    def keyed(batches: Any) -> Any:
        for batch in batches:
            canonical = adapter(batch[source_cols].reset_index(drop=True))
            out = batch.assign(**{ID_KEY: clean_ids(canonical[s.CUSTOMER_ID]).to_numpy()})
            yield arrow_safe(out)

    schema = StructType([*frame.schema.fields, StructField(ID_KEY, StringType())])
    return _keyed(raw, frame.mapInPandas(keyed, schema))


def _keyed(raw: SparkRaw, frame: Any) -> SparkRaw:
    """``raw`` over ``frame`` (``raw.frame`` plus :data:`ID_KEY`), keyed on that column."""
    return dataclasses.replace(
        raw,
        frame=frame,
        customer_col=ID_KEY,
        adapter=partial(_without_key, raw.adapter),
        id_key=True,
    )


def _without_key(adapter: Any, frame: pd.DataFrame) -> pd.DataFrame:
    return adapter(frame.drop(columns=[ID_KEY], errors="ignore"))
