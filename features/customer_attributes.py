"""Customer attributes and item categories joined onto per-customer features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.id_codes import factorize_ids, id_positions

# Customer-table columns that are not features: a free-text list and the label.
NOT_ATTRIBUTES = (s.PREFERRED_CATEGORIES, s.CHURN_LABEL)


def keyed_table(df: pd.DataFrame, key: str, *, table: str) -> pd.DataFrame:
    """``df`` indexed by its ``key`` ids (a column or already the index); ids unique.

    Parameters
    ----------
    df
        The table, shape (n_rows, k), with ``key`` as a column or as its index.
    key
        The id column.
    table
        The table's name, for errors.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``key``, shape (n_rows, k - 1) (or k when the key was the index).
    """
    if not isinstance(df, pd.DataFrame):
        raise KizunaInputError(f"the {table} table must be a pandas DataFrame")
    if key in df.columns:
        out = df.set_index(key)
    elif df.index.name == key:
        out = df
    else:
        raise KizunaInputError(
            f"the {table} table needs its ids in a column or index named {key!r}", column=key
        )
    if out.index.hasnans:
        raise KizunaInputError(f"the {table} table has rows without an id", column=key)
    if not out.index.is_unique:
        raise KizunaInputError(f"ids must be unique in the {table} table", column=key,
                               values=out.index[out.index.duplicated()].unique())  # fmt: skip
    return out


def categories_via_items(
    items: pd.DataFrame, category_col: str, item_ids: pd.Index, item_code: np.ndarray
) -> tuple[np.ndarray, pd.Index]:
    """Category code of each purchase line (-1 unknown) from the item catalogue.

    Parameters
    ----------
    items
        The item catalogue, indexed by item id.
    category_col
        Its category column.
    item_ids
        The distinct item ids of the purchase lines, shape (n_items,).
    item_code
        Each purchase line's position in ``item_ids``, shape (n_lines,).

    Returns
    -------
    codes : numpy.ndarray
        Shape (n_lines,), category code of each line; -1 unknown.
    categories : pandas.Index
        The distinct categories, shape (n_categories,).
    """
    cat_code, cat_ids = factorize_ids(items[category_col].array, column=category_col,
                                      allow_missing=True)  # fmt: skip
    pos = id_positions(item_ids, items.index)
    per_item = np.where(pos >= 0, np.append(cat_code, -1)[pos], -1)
    return per_item[item_code], cat_ids


def join_customer_attributes(
    out: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp,
    customer_col: str,
    signup_col: str,
) -> pd.DataFrame:
    """``out`` (indexed by customer id) with ``signup_tenure_days`` and the attributes.

    Numeric and boolean attributes become float, text ones ``category`` (with
    the whole table's categories, so every snapshot shares them); dates other
    than the signup and :data:`NOT_ATTRIBUTES` are skipped.

    Parameters
    ----------
    out
        Features so far, indexed by customer id, shape (n_customers, k).
    customers
        The validated customers table, indexed by customer id.
    as_of
        The cutoff the signup tenure is measured to.
    customer_col
        Name of the customer id column.
    signup_col
        Name of the signup date column.

    Returns
    -------
    pandas.DataFrame
        ``out`` with the attribute columns added, shape (n_customers, k + n_attributes).
    """
    table = keyed_table(customers, customer_col, table="customers")
    pos = id_positions(out.index, table.index)
    found = pos >= 0
    take = np.where(found, pos, 0)
    extra: dict[str, Any] = {}
    for col in table.columns:
        values = table[col]
        if col in NOT_ATTRIBUTES:
            continue
        if col == signup_col:
            if not pd.api.types.is_datetime64_dtype(values.dtype):
                raise KizunaInputError(f"must be naive datetime64 (got {values.dtype})",
                                       column=col, values=values.head(3))  # fmt: skip
            signup = values.to_numpy(dtype="datetime64[ns]")[take]
            days = (as_of.to_datetime64() - signup) / np.timedelta64(1, "D")
            # NaN when unknown or not before as_of (NaT compares False too).
            extra[s.SIGNUP_TENURE_DAYS] = np.where(found & (days > 0), days, np.nan)
            continue
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            extra[col] = np.where(found, numbers[take], np.nan)
        elif (
            isinstance(values.dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(values.dtype)
            or values.dtype == object
        ):
            # Categories from the whole table, so every snapshot shares them.
            cats = values.astype("category")
            codes = np.where(found, cats.cat.codes.to_numpy()[take], -1)
            extra[col] = pd.Categorical.from_codes(codes, dtype=cats.dtype)
        # datetimes and other types: skipped, since a date may describe the future
    clash = [name for name in extra if name in out.columns]
    if clash:
        raise KizunaInputError(
            "customer attributes clash with behaviour feature names; rename them",
            column=clash[0], values=clash,
        )  # fmt: skip
    return out.assign(**extra)
