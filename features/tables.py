"""Validation of the optional tables: the item catalogue and the customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.contract import (
    check_coercible,
    ids_to_str,
    require_columns,
    to_timestamp,
)
from kizuna.features.errors import KizunaInputError
from kizuna.features.numbers import NumberRule, all_numbers, parse_numbers
from kizuna.features.timestamps import TimestampRule

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def validate_items(
    raw: pd.DataFrame, *, item_col: str = s.ITEM_ID, number_rule: NumberRule | None = None
) -> pd.DataFrame:
    """Type and check the item catalogue.

    Parameters
    ----------
    raw
        Shape (n_items, n_columns) with at least ``item_id``; optional
        ``name``, ``category``, ``price``, ``margin`` (share of price, 0..1),
        ``in_stock`` (bool or yes/no text).
    number_rule
        How ``price`` and ``margin`` are written when they are text.
    item_col
        The item id column.

    Returns
    -------
    pandas.DataFrame
        Indexed by item id (unique), typed columns; other columns untouched.
    """
    require_columns(raw, (item_col,), table="items")
    out = raw.copy()
    out[item_col] = ids_to_str(out[item_col])
    _require_unique_ids(out, item_col, table="items")
    for col in (s.NAME, s.CATEGORY):
        if col in out.columns:
            out[col] = ids_to_str(out[col])
    for col in (s.PRICE, s.MARGIN):
        if col in out.columns:
            parsed = parse_numbers(out[col], number_rule)
            check_coercible(out[col], parsed, column=col, kind="numbers", max_bad_share=0.0)
            out[col] = parsed
    if s.PRICE in out.columns and (out[s.PRICE] < 0).any():
        raise KizunaInputError(
            "prices must not be negative", column=s.PRICE, values=out.loc[out[s.PRICE] < 0, s.PRICE]
        )
    if s.MARGIN in out.columns:
        bad = (out[s.MARGIN] < 0) | (out[s.MARGIN] > 1)
        if bad.any():
            raise KizunaInputError(
                "margin is a share of the price, between 0 and 1",
                column=s.MARGIN,
                values=out.loc[bad, s.MARGIN],
            )
    if s.IN_STOCK in out.columns:
        out[s.IN_STOCK] = _to_bool(out[s.IN_STOCK], column=s.IN_STOCK, default=True)
    return out.set_index(item_col)


def validate_customers(
    raw: pd.DataFrame,
    *,
    customer_col: str = s.CUSTOMER_ID,
    label_col: str | None = None,
    timestamp_rule: TimestampRule | None = None,
    number_rule: NumberRule | None = None,
    number_columns: list[str] | None = None,
) -> pd.DataFrame:
    """Type and check the customers table.

    ``signup_date`` becomes a timestamp; ``preferred_categories`` stays text
    (categories separated by ``|``); ``label_col``, when given, must hold
    0/1, true/false or yes/no and becomes 0/1. Attribute columns pass through;
    under a declared ``number_rule`` (a decimal comma, grouped digits) a text
    column whose every value is a number under it becomes numbers, as the
    models read ``12.5`` written as text (``number_columns`` names those
    columns when a part of the table is validated: the whole table decides).
    ``timestamp_rule`` says how ``signup_date`` is written (ISO text by default).

    Parameters
    ----------
    raw
        The customers table as read, shape (n_customers, n_columns).
    customer_col
        The customer id column.
    label_col
        The contractual churn label column, if any.
    timestamp_rule
        How ``signup_date`` is written.
    number_rule
        How numbers written as text are written.
    number_columns
        Columns to read as numbers under ``number_rule`` (None: decide on this table).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (unique), shape (n_customers, n_columns - 1).
    """
    require_columns(raw, (customer_col,), table="customers")
    out = raw.copy()
    out[customer_col] = ids_to_str(out[customer_col])
    _require_unique_ids(out, customer_col, table="customers")
    if s.SIGNUP_DATE in out.columns:
        parsed = to_timestamp(out[s.SIGNUP_DATE], rule=timestamp_rule, column=s.SIGNUP_DATE)
        check_coercible(
            out[s.SIGNUP_DATE], parsed, column=s.SIGNUP_DATE, kind="dates", max_bad_share=0.0
        )
        out[s.SIGNUP_DATE] = parsed
    if s.PREFERRED_CATEGORIES in out.columns:
        out[s.PREFERRED_CATEGORIES] = ids_to_str(out[s.PREFERRED_CATEGORIES])
    if label_col is not None:
        require_columns(out, (label_col,), table="customers")
        out[label_col] = _to_bool(out[label_col], column=label_col, default=None).astype("int8")
    if number_rule is not None and not number_rule.is_default:
        if number_columns is None:
            fixed = [customer_col, s.SIGNUP_DATE, s.PREFERRED_CATEGORIES, label_col]
            others = out.columns.difference([c for c in fixed if c], sort=False)
            number_columns = [c for c in others if all_numbers(out[c], number_rule)]
        for col in number_columns:
            out[col] = parse_numbers(out[col], number_rule)
    return out.set_index(customer_col)


def _require_unique_ids(df: pd.DataFrame, col: str, *, table: str) -> None:
    missing = df[col].isna()
    if missing.any():
        raise KizunaInputError(f"{int(missing.sum())} {table} rows have no id", column=col)
    dup = df[col].duplicated()
    if dup.any():
        raise KizunaInputError(
            f"ids must be unique in the {table} table", column=col, values=df.loc[dup, col].unique()
        )


def _to_bool(values: pd.Series, *, column: str, default: bool | None) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype) and not values.isna().any():
        return values.astype(bool)
    text = values.astype("string").str.strip().str.lower()
    text = text.str.replace(r"\.0$", "", regex=True)
    truth = text.isin(_TRUE).fillna(False)
    falsity = text.isin(_FALSE).fillna(False)
    blank = text.isna() | (text == "")
    bad = ~(truth | falsity | blank)
    if default is None:
        bad |= blank
    if bad.any():
        raise KizunaInputError(
            "expected true/false, yes/no or 1/0",
            column=column,
            values=values[bad.to_numpy()].unique(),
        )
    out = np.where(blank.to_numpy(), bool(default), truth.to_numpy())
    return pd.Series(out, index=values.index, dtype=bool)
