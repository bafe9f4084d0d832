"""Reading sources at the edge: a file or a DataFrame, in a known format, mapped and validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.adapters import (
    ONLINE_RETAIL_COLUMNS,
    from_cdnow,
    from_online_retail,
)
from kizuna.features.column_map import ID_COLUMNS, apply_column_map
from kizuna.features.errors import KizunaInputError
from kizuna.features.numbers import NumberRule
from kizuna.features.reconciliation import ValidatedTransactions
from kizuna.features.tables import validate_customers, validate_items
from kizuna.features.timestamps import parse_timestamps
from kizuna.features.validate import validate_transactions
from kizuna.training.config import (
    DataConfig,
)
from kizuna.training.file_kinds import ReadOptions, reading_options
from kizuna.training.files import read_table
from kizuna.training.progress import step
from kizuna.training.source_formats import check_format_columns, read_cdnow
from kizuna.training.typed_columns import (
    ITEM_NUMBERS,
    TRANSACTION_NUMBERS,
    customer_text_columns,
    text_sources,
    typed_file_rows,
)

Format = Literal["canonical", "online-retail", "cdnow"]
FORMATS: tuple[str, ...] = ("canonical", "online-retail", "cdnow")
Source = str | Path | pd.DataFrame


@dataclass(frozen=True)
class RawTransactions:
    """A transactions table in canonical column names, not yet validated.

    Attributes
    ----------
    frame
        Shape (n_rows, n_columns), one row per input line.
    validate_kwargs
        Format-specific options for :func:`features.validate.validate_transactions`.
    """

    frame: pd.DataFrame
    validate_kwargs: dict[str, Any] = field(default_factory=dict)


def read_transactions(
    source: Source,
    *,
    format: Format = "canonical",
    column_map: Mapping[str, Any] | None = None,
    reading: ReadOptions | None = None,
    number_rule: NumberRule | None = None,
) -> RawTransactions:
    """Read a transactions source and map it onto the canonical columns.

    Parameters
    ----------
    source
        A file (see :func:`read_table`) or a DataFrame.
    format
        ``canonical`` (optionally with ``column_map``), ``online-retail`` or
        ``cdnow`` (master file with header, or the sample file without one).
    column_map
        ``{canonical_name: source}`` for ``canonical`` sources (see
        :mod:`features.column_map`).
    reading
        How to read the file when its name does not say.
    number_rule
        How quantities and prices are written, for ``canonical`` sources:
        under a declared rule they are read as text, for the validator to read.

    Returns
    -------
    RawTransactions
    """
    if format == "canonical":
        texts = text_sources(column_map, ID_COLUMNS, number_rule, TRANSACTION_NUMBERS)
        frame = read_table(source, string_columns=texts, reading=reading)
        return RawTransactions(apply_column_map(frame, column_map))
    if column_map:
        raise KizunaInputError(f"a column_map applies to canonical sources, not to {format!r}")
    if format == "online-retail":
        frame = read_table(
            source, string_columns={"InvoiceNo", "StockCode", "Description"}, reading=reading
        )
        check_format_columns(frame, ONLINE_RETAIL_COLUMNS, format)
        return RawTransactions(from_online_retail(frame), {"timestamp_format": "%Y-%m-%d %H:%M:%S"})
    if format == "cdnow":
        return RawTransactions(from_cdnow(read_cdnow(source)), {"allow_zero_price": True})
    raise KizunaInputError(f"unknown format {format!r}; expected one of {FORMATS}")


def load_transactions(
    data: DataConfig,
    *,
    as_of: Any = None,
    quiet: bool = False,
    with_events: bool = True,
    experiment: str | None = None,
) -> ValidatedTransactions:
    """Read and validate the transactions that ``data`` names, showing progress.

    With ``with_events``, purchases that the service of ``experiment``
    stored through ``/events`` (:func:`training.stored_events.event_store_path`) are appended first,
    so the next training run includes them; they are validated and counted
    like any row. See :func:`load_transactions_and_events` for the last
    sequence number read.

    Parameters
    ----------
    data
        The experiment's ``data:`` section (or the CLI's source).
    as_of
        Set aside rows at or after this instant; None keeps all.
    quiet
        Whether to hide progress.
    with_events
        Whether to append the service's stored events.
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    ValidatedTransactions
    """
    return load_transactions_and_events(
        data, as_of=as_of, quiet=quiet, with_events=with_events, experiment=experiment
    )[0]


def load_transactions_and_events(
    data: DataConfig,
    *,
    as_of: Any = None,
    quiet: bool = False,
    with_events: bool = True,
    experiment: str | None = None,
) -> tuple[ValidatedTransactions, int]:
    """:func:`load_transactions`, plus the last event ``seq`` it includes (0 without events).

    The store is read once, so a snapshot built from the result includes
    exactly the lines up to that ``seq``; the service applies only later ones.
    Ids of both sources are made text first, so an id read as a number in the
    file (``17850.0``) and the same id stored as text (``"17850"``) stay one customer.

    Parameters
    ----------
    data
        The experiment's ``data:`` section (or the CLI's source).
    as_of
        Set aside rows at or after this instant; None keeps all.
    quiet
        Whether to hide progress.
    with_events
        Whether to append the service's stored events.
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    validated : ValidatedTransactions
    last_seq : int
        The last stored event included (0 without events).
    """
    from kizuna.features.contract import require_columns
    from kizuna.serving.event_rows import SEQ, read_events
    from kizuna.training.stored_events import event_store_path

    if data.transactions is None:
        raise KizunaInputError("this command needs a transactions source (data.transactions)")
    with step(f"reading {data.transactions} ({data.format})", quiet=quiet):
        raw = read_transactions(
            data.transactions,
            format=data.format,
            column_map=data.column_map,
            reading=reading_options(data),
            number_rule=data.number_rule,
        )
    kwargs = dict(raw.validate_kwargs)
    if data.format == "canonical":
        kwargs["timestamp_rule"] = data.timestamp_rule
        kwargs["number_rule"] = data.number_rule
    store = event_store_path(data, experiment) if with_events else None
    events = read_events(store) if store is not None else None
    last_seq = 0
    if events is not None and len(events):
        # A file without a required column fails as it would alone, before stored
        # events (which have every column) could fill it with missing values.
        require_columns(raw.frame, s.TRANSACTION_REQUIRED, table="transactions")
        last_seq = int(events[SEQ].max())
        with step(f"appending {len(events):,} stored purchase events", quiet=quiet):
            frame = typed_file_rows(raw.frame, kwargs)
            stored = events.drop(columns=[SEQ])
            stored[s.TIMESTAMP] = parse_timestamps(stored[s.TIMESTAMP])
            raw = RawTransactions(pd.concat([frame, stored], ignore_index=True), {})
            kwargs = {k: v for k, v in kwargs.items() if k == "allow_zero_price"}
            kwargs["stored_rows"] = np.arange(len(raw.frame)) >= len(frame)
    with step(f"validating {len(raw.frame):,} rows", quiet=quiet):
        validated = validate_transactions(raw.frame, as_of=as_of, data_end=data.data_end, **kwargs)
    return validated, last_seq


def load_tables(
    data: DataConfig, *, label_col: str | None = None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Read and validate the optional items and customers tables.

    ``label_col`` names a contractual churn label in the customers table,
    which is then checked and turned into 0/1.

    Parameters
    ----------
    data
        The experiment's ``data:`` section (or the CLI's source).
    label_col
        The contractual churn label column, or None.

    Returns
    -------
    items, customers : pandas.DataFrame or None
        Indexed by id; None where the experiment names no such table.
    """
    customers = None
    if data.customers is not None:
        reading = reading_options(data.customers_reading) if data.customers_reading else None
        texts = customer_text_columns(data, reading)
        frame = read_table(data.customers, string_columns=texts, reading=reading)
        customers = validate_customers(
            apply_column_map(frame, data.customers_column_map, table="customers"),
            label_col=label_col,
            timestamp_rule=data.timestamp_rule,
            number_rule=data.number_rule,
        )
    return load_items(data), customers


def load_items(data: DataConfig) -> pd.DataFrame | None:
    """Read and validate the optional items table (None without one).

    Parameters
    ----------
    data
        The experiment's ``data:`` section (or the CLI's source).

    Returns
    -------
    pandas.DataFrame or None
    """
    if data.items is None:
        return None
    texts = text_sources(data.items_column_map, (s.ITEM_ID,), data.number_rule, ITEM_NUMBERS)
    reading = reading_options(data.items_reading) if data.items_reading else None
    frame = read_table(data.items, string_columns=texts, reading=reading)
    return validate_items(
        apply_column_map(frame, data.items_column_map, table="items"),
        number_rule=data.number_rule,
    )
