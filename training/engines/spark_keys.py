"""The shard key of a line: its customer id as the validator cleans it.

Lines and the customers table meet in one shard only if both are sharded on
the same text. The validator cleans ids with
:func:`features.contract.ids_to_str` (trimmed text; a whole float such as
``17850.0`` becomes ``"17850"``), and the customers table is cleaned the same
way, so the lines are sharded on that text too:

* a text or integer column: Spark's ``trim(cast(... as string))`` in
  :func:`training.engines.spark_validate.shard_key` is already what
  ``ids_to_str`` gives, so nothing crosses to Python;
* a floating-point or decimal column (Online Retail's ``CustomerID``): that
  one column goes through ``ids_to_str`` in a pandas UDF;
* an id built by the column map from an expression or several columns: the
  format adapter builds it per batch, then ``ids_to_str`` (one more pass over
  the lines, only for such sources).
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


def clean_ids(values: pd.Series) -> pd.Series:
    """:func:`features.contract.ids_to_str` in the layout pyspark's Arrow writer takes."""
    from kizuna.features.contract import ids_to_str

    out = ids_to_str(values)
    return out.astype(object).where(out.notna(), None)


def id_text(frame: Any, column: str) -> Any:
    """Spark column: ``column`` of ``frame`` as text that :func:`shard_key
    <training.engines.spark_validate.shard_key>` turns into the shard of the cleaned id."""
    from pyspark.sql import functions as F

    if _text_already(frame, column):
        return F.col(column)
    return F.pandas_udf(clean_ids, "string")(F.col(column))  # type: ignore[call-overload]


def _text_already(frame: Any, column: str) -> bool:
    return dict(frame.dtypes)[column] in _AS_TEXT_ALREADY


def with_id_key(raw: SparkRaw) -> SparkRaw:
    """``raw`` whose ``customer_col`` holds the cleaned customer id (``raw`` itself if it does).

    Returns a :class:`SparkRaw` with ``id_key`` set; its ``customer_col``
    cleaned by ``ids_to_str`` is the customer id the validator will see.
    """
    from pyspark.sql.types import StringType, StructField, StructType

    if raw.id_key:
        return raw
    if raw.direct_customer:
        if _text_already(raw.frame, raw.customer_col):
            return dataclasses.replace(raw, id_key=True)
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
