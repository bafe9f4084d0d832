"""How a source's columns are typed: which are read as text, and a file's rows typed
under its own rules before stored ``/events`` lines (ISO text, JSON numbers) meet them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.column_map import ID_COLUMNS, source_columns
from kizuna.features.numbers import NumberRule, parse_numbers
from kizuna.features.timestamps import TimestampRule, parse_timestamps
from kizuna.training.data_config import DataConfig
from kizuna.training.file_kinds import ReadOptions, file_format_of
from kizuna.training.files import read_table

TRANSACTION_NUMBERS = (s.QUANTITY, s.UNIT_PRICE)
ITEM_NUMBERS = (s.PRICE, s.MARGIN)


def text_sources(
    column_map: Mapping[str, Any] | None,
    ids: tuple[str, ...],
    number_rule: NumberRule | None = None,
    numbers: tuple[str, ...] = (),
) -> set[str]:
    """The source columns to read as text: those feeding ``ids`` (leading zeros
    stay), and those feeding ``numbers`` under a declared number rule (which
    pandas' or Spark's reader would read under its own: ``1.234`` as 1.234).

    Parameters
    ----------
    column_map
        The source's column map, or None.
    ids
        Canonical id columns.
    number_rule
        The declared number rule, or None.
    numbers
        Canonical number columns.

    Returns
    -------
    set of str
    """
    if number_rule is not None and not number_rule.is_default:
        ids = (*ids, *numbers)
    return source_columns(column_map, ids)


def _rule_of(kwargs: dict[str, Any]) -> TimestampRule:
    rule = kwargs.get("timestamp_rule")
    if rule is None and kwargs.get("timestamp_format"):
        rule = TimestampRule(format=kwargs["timestamp_format"])
    return rule or TimestampRule()


def typed_file_rows(frame: pd.DataFrame, kwargs: dict[str, Any]) -> pd.DataFrame:
    """A file's canonical rows typed under the file's rules, ready to meet stored events.

    The file's own timestamp and number rules apply to the file's rows; stored
    events are ISO text and JSON numbers. Both are typed first, so one column of
    each is validated; ids become text, so ``17850.0`` and ``"17850"`` stay one
    customer. A column that fails as a whole fails as validation would.

    Parameters
    ----------
    frame
        The file's canonical rows, shape (n, k).
    kwargs
        The validation options (timestamp and number rules).

    Returns
    -------
    pandas.DataFrame
        Shape (n, k).
    """
    from kizuna.features.contract import check_coercible, ids_to_str

    out = frame.copy()
    for col in ID_COLUMNS:
        if col in out.columns:
            out[col] = ids_to_str(out[col])
    if not len(out):
        out[s.TIMESTAMP] = pd.Series(dtype="datetime64[ns]")
        return out
    out[s.TIMESTAMP] = parse_timestamp_column(out, rule=_rule_of(kwargs))
    rule = kwargs.get("number_rule")
    for col in TRANSACTION_NUMBERS:
        parsed = parse_numbers(out[col], rule)
        check_coercible(out[col], parsed, column=col, kind="numbers", max_bad_share=0.5)
        out[col] = parsed
    return out


def parse_timestamp_column(frame: pd.DataFrame, *, rule: TimestampRule) -> pd.Series:
    """The timestamp column parsed under ``rule``, failing as validation would on a wrong rule.

    Parameters
    ----------
    frame
        Canonical rows, shape (n, k).
    rule
        How the timestamps are written.

    Returns
    -------
    pandas.Series
        Shape (n,), datetime64.
    """
    from kizuna.features.contract import check_coercible, require_columns

    require_columns(frame, (s.TIMESTAMP,), table="transactions")
    parsed = parse_timestamps(frame[s.TIMESTAMP], rule, column=s.TIMESTAMP)
    check_coercible(
        frame[s.TIMESTAMP], parsed, column=s.TIMESTAMP, kind="timestamps", max_bad_share=0.5
    )
    return parsed


def customer_text_columns(data: DataConfig, reading: ReadOptions | None) -> set[str]:
    """The customers file's columns to read as text: the id's, and under a declared
    number rule every column (the validator reads numbers among them).

    Parameters
    ----------
    data
        The experiment's ``data:`` section.
    reading
        The customers file's reading options, or None.

    Returns
    -------
    set of str
    """
    ids = source_columns(data.customers_column_map, (s.CUSTOMER_ID,))
    if data.customers is None or data.number_rule.is_default:
        return ids
    if file_format_of(Path(data.customers), reading) == "parquet":
        return ids  # typed columns
    return ids | set(map(str, read_table(data.customers, reading=reading, nrows=1).columns))
