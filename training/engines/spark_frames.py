"""pandas frames crossing to and from Spark: the layout each side takes, and probed schemas.

A shard function (``applyInPandas`` / ``mapInPandas``) gets lines as Spark
hands them (:func:`typed_lines` restores their types), returns a frame in the
layout pyspark's Arrow writer takes (:func:`to_spark_frame`), and needs its
output schema up front (:func:`probe_schema`). :func:`from_spark_frame` turns a
collected frame back into the pandas engine's layout.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.training.engines.spark_session import arrow_safe
from kizuna.training.engines.spark_shards import SHARD


def typed_lines(shard: pd.DataFrame) -> pd.DataFrame:
    """A shard's validated lines as the pandas feature functions take them.

    Parameters
    ----------
    shard
        Lines as Spark hands them to a shard function, with ``__shard``.

    Returns
    -------
    pandas.DataFrame
        Without ``__shard``, on a fresh index; timestamps as ``datetime64[ns]``,
        ``is_return`` as bool, ids as strings.
    """
    tx = shard.drop(columns=[SHARD]).reset_index(drop=True)
    tx[s.TIMESTAMP] = tx[s.TIMESTAMP].astype("datetime64[ns]")
    tx[s.IS_RETURN] = tx[s.IS_RETURN].astype(bool)
    for col in (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID):
        tx[col] = tx[col].astype("string")
    return tx


def to_spark_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Index to a column; categoricals to text (Spark has no categorical type).

    Parameters
    ----------
    frame
        A per-customer frame indexed by customer id.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` as the first column, in the layout pyspark's Arrow writer takes.
    """
    out = frame.reset_index()
    return _plain_columns(out.rename(columns={out.columns[0]: s.CUSTOMER_ID}))


def _plain_columns(out: pd.DataFrame) -> pd.DataFrame:
    """Categoricals and Python objects as text, in the layout pyspark's Arrow writer takes."""
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype) or out[col].dtype == object:
            out[col] = out[col].astype("string")
    return arrow_safe(out)


def from_spark_frame(pdf: pd.DataFrame, categories: dict[str, pd.CategoricalDtype]) -> pd.DataFrame:
    """A collected per-customer frame in the pandas engine's layout (undoes :func:`to_spark_frame`).

    Parameters
    ----------
    pdf
        Rows with a ``customer_id`` column, as ``toPandas`` returns them.
    categories
        Category dtypes to restore per column (:func:`category_dtypes`).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (strings), the named columns categorical again.
    """
    out = pdf.set_index(s.CUSTOMER_ID)
    out.index = out.index.astype("string")
    for col, dtype in categories.items():
        if col in out.columns:
            out[col] = out[col].astype(dtype)
    return out


def category_dtypes(customers: pd.DataFrame | None) -> dict[str, pd.CategoricalDtype]:
    """Category dtypes of text customer attributes, from the whole table (as behaviour does).

    Parameters
    ----------
    customers
        The validated customers table, or None.

    Returns
    -------
    dict
        Column -> :class:`pandas.CategoricalDtype` of every text column (empty without a table).
    """
    if customers is None:
        return {}
    out = {}
    for col in customers.columns:
        values = customers[col]
        if (
            isinstance(values.dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(values.dtype)
            or values.dtype == object
        ):
            out[col] = values.astype("category").dtype
    return out


def probe_schema(
    frame: Any, grouped: Any, mapped: Any = None, *, floats: tuple[str, ...] = ()
) -> Any:
    """The output schema of a shard function, from running it on a few rows on the driver.

    Parameters
    ----------
    frame
        The Spark DataFrame the function will run on.
    grouped
        The ``applyInPandas`` function (one group's frame in, a frame out), or None.
    mapped
        Else the ``mapInPandas`` function (an iterator of frames in and out).
    floats
        Float columns whose sample may happen to hold only whole numbers.

    Returns
    -------
    pyspark.sql.types.StructType
    """
    return schema_of(probe_output(frame, grouped, mapped), floats=floats)


def probe_output(frame: Any, grouped: Any, mapped: Any = None) -> pd.DataFrame:
    """A shard function's output on a few rows of ``frame``, run on the driver.

    Parameters
    ----------
    frame
        The Spark DataFrame the function will run on.
    grouped, mapped
        The function, as for :func:`probe_schema`.

    Returns
    -------
    pandas.DataFrame
        What the function returns for the first 2,000 rows.
    """
    sample = frame.limit(2_000).toPandas()
    if grouped is not None:
        return grouped(sample)
    return next(iter(mapped(iter([sample]))))


def schema_of(out: pd.DataFrame, *, floats: tuple[str, ...] = ()) -> Any:
    """The Spark schema of a shard function's output ``out`` (see :func:`probe_schema`).

    Parameters
    ----------
    out
        A sample of the function's output.
    floats
        Columns typed as double whatever the sample holds.

    Returns
    -------
    pyspark.sql.types.StructType
        Timestamps in microseconds, text as string, lists as lists of strings.
    """
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = pa.Schema.from_pandas(out, preserve_index=False)
    fields = []
    for f in schema:
        t = f.type
        if f.name in floats:
            t = pa.float64()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us")
        elif pa.types.is_large_string(t) or pa.types.is_string(t) or pa.types.is_null(t):
            t = pa.string()
        elif pa.types.is_list(t) or pa.types.is_large_list(t):
            t = pa.list_(pa.string())  # item ids and reasons; empty lists type as null
        fields.append(pa.field(f.name, t))
    return from_arrow_schema(pa.schema(fields))
