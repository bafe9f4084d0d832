"""One shard's validation on Spark, in pandas: the adapter and the pandas validator.

:func:`validate_shard` runs in a pandas UDF of
:func:`training.engines.spark_validate.validate` (and :func:`validate_lines` in
the one-pass job of :mod:`training.engines.spark_pass`): a shard's raw lines go
through the format adapter and :func:`features.validate.validate_transactions`
exactly as the pandas engine runs them on the whole table, and come back in one
Spark layout: kept rows, set-aside rows and parse statistics, told apart by
:data:`KIND`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.validate import validate_transactions
from kizuna.training.engines.spark_counts import (
    INPUT,
    STAT_BAD,
    STAT_COLUMN,
    STAT_PRESENT,
    parse_stats,
    span_rows,
)
from kizuna.training.engines.spark_events import STORED_FROM
from kizuna.training.engines.spark_io import ROW
from kizuna.training.engines.spark_session import arrow_safe
from kizuna.training.engines.spark_shards import SHARD

KIND = "__kind"  # 0 kept, 1 set aside, 2 parse statistics of one column
KEPT, ASIDE, STATS = 0, 1, 2
RAW_PREFIX = "raw__"
KEPT_TYPES = {
    s.CUSTOMER_ID: "string",
    s.ORDER_ID: "string",
    s.ITEM_ID: "string",
    s.TIMESTAMP: "timestamp_ntz",
    s.QUANTITY: "double",
    s.UNIT_PRICE: "double",
    s.REVENUE: "double",
    s.IS_RETURN: "boolean",
    s.ROW_ID: "long",
}


def validate_lines(
    shard: pd.DataFrame, adapter: Any, raw_cols: list[str], kwargs: dict[str, Any]
) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """One shard's raw lines through the adapter and the validator, as pandas runs them.

    Returns the :class:`features.reconciliation.ValidatedTransactions` (row ids are
    input positions), the set-aside rows in the Spark layout (text columns
    prefixed ``raw__``, ``row_id``, ``reason``) and the canonical frame.

    Parameters
    ----------
    shard
        One shard's raw lines, shape (n, k).
    adapter
        The source format's adapter.
    raw_cols
        The raw columns, in order.
    kwargs
        The validation options (timestamp and number rules).

    Returns
    -------
    validated : ValidatedTransactions
    set_aside : pandas.DataFrame
        In the Spark layout.
    canonical : pandas.DataFrame
        The canonical frame.
    """
    # Input order, so that the first of a set of duplicates is the one kept, as in pandas.
    shard = shard.sort_values(ROW, kind="stable")
    raw = shard[raw_cols].reset_index(drop=True)
    positions = shard[ROW].to_numpy(dtype=np.int64)
    canonical = adapter(raw)
    kwargs = dict(kwargs)
    stored_from = kwargs.pop(STORED_FROM, None)
    if stored_from is not None:  # the events appended after the file's rows
        kwargs["stored_rows"] = positions >= stored_from
    validated = validate_transactions(canonical, **kwargs)
    validated.kept[s.ROW_ID] = positions[validated.kept[s.ROW_ID].to_numpy()]
    aside = validated.set_aside
    aside_pos = aside[s.ROW_ID].to_numpy()
    rows = aside.drop(columns=[s.ROW_ID, s.REASON]).astype("string").add_prefix(RAW_PREFIX)
    rows[s.ROW_ID] = positions[aside_pos]
    rows[s.REASON] = aside[s.REASON].to_numpy()
    return validated, rows, canonical


def validate_shard(
    shard: pd.DataFrame,
    adapter: Any,
    raw_cols: list[str],
    extras: list[str],
    kwargs: dict[str, Any],
    shard_id: int,
) -> pd.DataFrame:
    """One shard: adapter and validation, as the pandas engine runs them on the whole table.

    Parameters
    ----------
    shard
        One shard's raw lines, shape (n, k).
    adapter
        The source format's adapter.
    raw_cols
        The raw columns, in order.
    extras
        Extra columns carried along.
    kwargs
        The validation options (timestamp and number rules).
    shard_id
        The shard's number.

    Returns
    -------
    pandas.DataFrame
        The shard's kept and set-aside rows with their counts, in the Spark layout.
    """
    validated, aside, canonical = validate_lines(shard, adapter, raw_cols, kwargs)
    kept = validated.kept
    for col in extras:
        kept[col] = kept[col].astype("string")
    kept[KIND] = KEPT
    aside[KIND] = ASIDE
    stats = parse_stats(canonical, kwargs)
    stats.append({STAT_COLUMN: INPUT, STAT_PRESENT: len(shard), STAT_BAD: 0})
    stats += span_rows(validated)
    stats = pd.DataFrame(stats)
    stats[KIND] = STATS
    out = pd.concat([kept, aside, stats], ignore_index=True)
    out[SHARD] = shard_id
    columns = [*KEPT_TYPES, *extras, *(RAW_PREFIX + str(c) for c in canonical.columns)]
    columns += [s.REASON, KIND, SHARD, STAT_COLUMN, STAT_PRESENT, STAT_BAD]
    return arrow_safe(out.reindex(columns=columns))
