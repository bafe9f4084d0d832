"""The customers table on Spark, sharded like the lines: each shard gets only its own rows.

The table is read by Spark (never whole on the driver), its column map
applied per batch, and each row keyed by its cleaned id
(:func:`features.contract.ids_to_str`, as the validator cleans the lines'
ids, see :mod:`training.engines.spark_keys`). Sharded by that key it is
cogrouped with the lines, and each shard validates its rows with
:func:`features.tables.validate_customers`, the pandas engine's validator:
equal ids hash to one shard, so duplicates are still found. What needs the
whole table is taken once on Spark: the day/month order of text signup dates
and the categories of text attributes.

Usable by any shard function that needs the customers next to the lines
(features, scoring): :func:`read_customers`, then :func:`sharded_customers`
cogrouped with the lines, and :meth:`SparkCustomers.shard_validator` inside the shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.training.config import DataConfig
from kizuna.training.engines.spark_keys import ID_KEY, clean_ids, id_text
from kizuna.training.engines.spark_shards import SHARD, shard_key


@dataclass
class SparkCustomers:
    """The customers table on Spark (column map applied, values as read) and what
    needs all of it: ``categories`` of text attributes (as
    :func:`features.customer_attributes.join_customer_attributes` takes them from
    the whole table) and the settled ``timestamp_rule`` of ``signup_date``."""

    frame: Any  # Spark frame, with ID_KEY: the cleaned id as text
    categories: dict[str, pd.CategoricalDtype]
    timestamp_rule: Any
    label_col: str | None = None
    number_rule: Any = None
    #: Text columns whose every value is a number under ``number_rule`` (a declared one).
    number_columns: list[str] | None = None

    def shard_validator(self) -> Any:
        """:func:`customers_of_shard` with this table's settings; picklable, for shards.

        Returns
        -------
        callable
            Raw rows -> validated customers rows.
        """
        from functools import partial

        return partial(
            customers_of_shard,
            timestamp_rule=self.timestamp_rule,
            label_col=self.label_col,
            number_rule=self.number_rule,
            number_columns=self.number_columns,
        )


def read_customers(
    spark: Any, data: DataConfig, *, label_col: str | None = None
) -> SparkCustomers | None:
    """The customers table ``data`` names, on Spark (None without one).

    Parameters
    ----------
    spark
        The Spark session.
    data
        The experiment's ``data:`` section.
    label_col
        The contractual churn label column, or None.

    Returns
    -------
    SparkCustomers or None
    """
    from kizuna.features.column_map import apply_column_map
    from kizuna.features.customer_attributes import NOT_ATTRIBUTES
    from kizuna.training.engines.spark_frames import probe_schema
    from kizuna.training.engines.spark_io import read_frame
    from kizuna.training.engines.spark_session import arrow_safe
    from kizuna.training.engines.spark_types import settled_rule
    from kizuna.training.file_kinds import reading_options
    from kizuna.training.typed_columns import customer_text_columns

    if data.customers is None:
        return None
    reading = reading_options(data.customers_reading) if data.customers_reading else None
    texts = customer_text_columns(data, reading)
    frame, _ = read_frame(
        spark, data.customers, string_columns=texts, reading=reading, settle_now=True
    )
    column_map = dict(data.customers_column_map) or None
    # Checked once here, as the pandas engine would, before any shard runs.
    apply_column_map(frame.limit(0).toPandas(), column_map, table="customers")
    if column_map:

        def mapped(batches: Any) -> Any:
            for batch in batches:
                out = apply_column_map(batch, column_map, table="customers")
                out[ID_KEY] = clean_ids(out[s.CUSTOMER_ID]).to_numpy()
                yield arrow_safe(out)

        frame = frame.mapInPandas(mapped, probe_schema(frame, None, mapped))
    else:
        from kizuna.features.contract import require_columns

        require_columns(frame.limit(0).toPandas(), (s.CUSTOMER_ID,), table="customers")
        frame = frame.withColumn(ID_KEY, id_text(frame, s.CUSTOMER_ID))
    rule = settled_rule(frame, data.timestamp_rule, s.SIGNUP_DATE)
    skip = {s.CUSTOMER_ID, s.SIGNUP_DATE, ID_KEY, *NOT_ATTRIBUTES}
    text = [c for c, kind in frame.dtypes if kind == "string" and c not in skip]
    numbers = _number_columns(frame, [c for c in text if c != label_col], data.number_rule)
    text = [c for c in text if c not in (numbers or ())]
    return SparkCustomers(
        frame,
        _categories(frame, text),
        rule,
        label_col,
        number_rule=data.number_rule,
        number_columns=numbers,
    )


def sharded_customers(customers: SparkCustomers, shards: int) -> Any:
    """The table with ``__shard`` (the shard of its cleaned id), one partition per shard,
    as :attr:`training.engines.spark_validate.ShardPlan.sharded` partitions the lines.

    Parameters
    ----------
    customers
        The customers table on Spark.
    shards
        Number of shards.

    Returns
    -------
    pyspark.sql.DataFrame
    """
    from pyspark.sql import functions as F

    keyed = customers.frame.withColumn(SHARD, shard_key(F.col(ID_KEY), shards)).drop(ID_KEY)
    return keyed.repartition(shards, SHARD)


def customers_of_shard(
    rows: pd.DataFrame,
    *,
    timestamp_rule: Any,
    label_col: str | None = None,
    number_rule: Any = None,
    number_columns: list[str] | None = None,
) -> pd.DataFrame:
    """One shard's customers rows validated as :func:`training.data.load_tables` does
    (bound by :meth:`SparkCustomers.shard_validator`).

    Parameters
    ----------
    rows
        One shard's raw customers rows, shape (n, k).
    timestamp_rule
        How ``signup_date`` is written.
    label_col
        The contractual churn label column, or None.
    number_rule
        The declared number rule, or None.
    number_columns
        Columns to read as numbers, or None.

    Returns
    -------
    pandas.DataFrame
        The shard's validated customers, shape (n, k).
    """
    from kizuna.features.tables import validate_customers

    table = rows.drop(columns=[SHARD, ID_KEY], errors="ignore").reset_index(drop=True)
    return validate_customers(
        table,
        label_col=label_col,
        timestamp_rule=timestamp_rule,
        number_rule=number_rule,
        number_columns=number_columns,
    )


def _number_columns(frame: Any, columns: list[str], rule: Any) -> list[str] | None:
    """The text columns whose every value is a number under a declared ``rule``, over
    the whole table, as :func:`features.numbers.all_numbers` decides on pandas
    (None under the default rule: the models read such columns themselves)."""
    from pyspark.sql import functions as F

    from kizuna.features.numbers import LEADING_ZERO

    if rule is None or rule.is_default:
        return None
    if not columns:
        return []
    aggs = []
    for c in columns:
        value = F.regexp_replace(F.col(c), r"^\s+|\s+$", "")
        present = value.isNotNull() & (value != "")
        number = value.rlike(rule.regex()) & ~value.rlike(LEADING_ZERO)
        aggs.append(F.max(present.cast("int")).alias(f"p{len(aggs)}"))
        aggs.append(F.min(F.when(present, number.cast("int"))).alias(f"n{len(aggs)}"))
    row = frame.agg(*aggs).collect()[0]
    return [c for i, c in enumerate(columns) if row[2 * i] == 1 and row[2 * i + 1] == 1]


def _categories(frame: Any, columns: list[str]) -> dict[str, pd.CategoricalDtype]:
    """The categories pandas gives each text column of the whole table (sorted values)."""
    from pyspark.sql import functions as F

    if not columns:
        return {}
    row = frame.agg(*[F.collect_set(c).alias(c) for c in columns]).collect()[0]
    return {c: pd.CategoricalDtype(sorted(row[c])) for c in columns}
