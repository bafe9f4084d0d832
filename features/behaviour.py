"""Point-in-time behaviour features: one row per customer, from orders before ``as_of``.

Everything here sees only rows with ``timestamp < as_of``; windows are half-open,
``[as_of - w days, as_of)``. The pipeline factorizes the id columns once and then
works on integer codes: per-order aggregates with ``np.bincount`` /
``np.minimum.at`` on order codes, per-customer aggregates with ``np.bincount`` on
the order's customer code, and one sort of the (much smaller) order table for the
gaps between orders. No groupby-apply, no Python loop over rows or customers.

Definitions
-----------
* A *purchase line* is a row with ``is_return == False``; an *order* is a distinct
  (customer, order id) pair among purchase lines, dated by its earliest line.
* ``monetary_*`` and ``revenue_*`` are gross purchase revenue (returns excluded);
  returns enter only through ``return_rate``.
* Standard deviations are population ones (``ddof=0``): a single order gives
  ``monetary_std == 0``, a single gap gives ``gap_std_days == 0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp
from kizuna.features.columnar import (
    bool_values,
    numeric_values,
    require_transaction_columns,
    run_parallel,
    timestamps_ns,
)
from kizuna.features.customer_attributes import (
    categories_via_items,
    join_customer_attributes,
    keyed_table,
)
from kizuna.features.errors import KizunaInputError
from kizuna.features.id_codes import distinct_per_row, factorize_ids, order_codes
from kizuna.features.order_features import order_features

DEFAULT_WINDOWS: tuple[int, ...] = (30, 90, 180, 365)
TREND_DAYS = 90


def behaviour_vector(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    customers: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    trend_days: int = TREND_DAYS,
    customer_col: str = s.CUSTOMER_ID,
    order_col: str = s.ORDER_ID,
    item_col: str = s.ITEM_ID,
    timestamp_col: str = s.TIMESTAMP,
    quantity_col: str = s.QUANTITY,
    revenue_col: str = s.REVENUE,
    is_return_col: str = s.IS_RETURN,
    category_col: str = s.CATEGORY,
    signup_col: str = s.SIGNUP_DATE,
) -> pd.DataFrame:
    """Behaviour features of every customer with a purchase before ``as_of``.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, n_columns): customer, order, item,
        timestamp, quantity, revenue, is_return and optionally category. Rows at
        or after ``as_of`` are ignored.
    as_of
        The snapshot instant (exclusive): only ``timestamp < as_of`` is used.
    customers
        Optional customers table (customer ids in ``customer_col`` or as the
        index). Adds ``signup_tenure_days`` (days from sign-up to ``as_of``;
        NaN when missing or not before ``as_of``), passes numeric and boolean
        attributes through (as float), turns text attributes into ``category``
        dtype (categories from the whole table, so they agree across
        snapshots). ``preferred_categories``, ``churned`` and other datetime
        columns are skipped.
    items
        Optional item catalogue with ``category_col``; used for the category
        features when ``transactions`` has no category column.
    windows
        Trailing window lengths in days for ``orders_<w>d`` / ``revenue_<w>d``.
    trend_days
        Length of the two adjacent periods compared by the trend features.
    customer_col, order_col, item_col, timestamp_col, quantity_col, revenue_col, is_return_col, category_col, signup_col
        Column names (the canonical ones by default).

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, n_features), index = customer id (sorted, named
        ``customer_col``). Columns:

        - ``recency_days``: as_of minus the last order; ``tenure_days``: as_of
          minus the first order (days, float).
        - ``frequency``: distinct orders; ``monetary_total``, ``monetary_mean``,
          ``monetary_std``: sum, mean and std of order revenue.
        - ``orders_<w>d``, ``revenue_<w>d``: orders (revenue) dated in
          ``[as_of - w, as_of)``.
        - ``gap_mean_days``, ``gap_std_days``: days between consecutive orders
          (NaN with a single order). ``recency_ratio = recency_days /
          max(gap_mean_days, 1)``: about 1 when the next order is "due"; NaN
          for one-order customers and when all orders share one instant.
        - ``revenue_trend``, ``order_trend``: ``(a - b) / (a + b)`` in [-1, 1]
          with ``a`` the last ``trend_days`` and ``b`` the ``trend_days``
          before; 0 when both are 0.
        - ``basket_lines_mean``, ``basket_quantity_mean``: purchase lines and
          units per order; ``distinct_items``.
        - ``return_rate``: returned revenue / purchased revenue, from returns
          before ``as_of`` (0 with no returns; NaN if returns but no purchased
          revenue). Not clipped: more than 1 means returns of goods bought
          outside the data.
        - with categories: ``distinct_categories`` and ``top_category_share``
          (purchase lines in the most bought category / lines with a category;
          NaN when no line has one).
        - with ``customers``: ``signup_tenure_days`` and the attributes.
    """
    as_of_ts = as_of_timestamp(as_of)
    required = (customer_col, order_col, item_col, timestamp_col, quantity_col,
                revenue_col, is_return_col)  # fmt: skip
    require_transaction_columns(transactions, required)
    windows = _check_windows(windows, trend_days)
    has_category = category_col in transactions.columns
    if not has_category and items is not None:
        items_table = keyed_table(items, item_col, table="items")
        has_category = category_col in items_table.columns
    else:
        items_table = None

    ts = timestamps_ns(transactions[timestamp_col], column=timestamp_col)
    is_ret = bool_values(transactions[is_return_col], column=is_return_col)
    before = ts < as_of_ts.value
    buy_all = before & ~is_ret
    in_before = _selector(before)
    in_buy = _selector(buy_all)

    def col(name: str, sel: np.ndarray | None) -> Any:
        arr = transactions[name].array
        return arr if sel is None else arr[sel]

    # The string columns dominate the cost; their factorizations (pyarrow, GIL
    # released) run side by side.
    jobs = {
        "cust": lambda: factorize_ids(
            col(customer_col, in_before), column=customer_col, sort=True, runs=True
        ),  # fmt: skip
        "order": lambda: factorize_ids(col(order_col, in_buy), column=order_col),
        "item": lambda: factorize_ids(col(item_col, in_buy), column=item_col),
    }
    if has_category and items_table is None:
        jobs["cat"] = lambda: factorize_ids(col(category_col, in_buy), column=category_col,
                                            allow_missing=True)  # fmt: skip
    codes = run_parallel(jobs)
    cust_all, cust_ids = codes["cust"]
    n_cust = len(cust_ids)
    ret = is_ret[before]
    c = cust_all[~ret]
    t = ts[buy_all]
    revenue = numeric_values(transactions[revenue_col], column=revenue_col)
    rev = revenue[buy_all]
    qty = numeric_values(transactions[quantity_col], column=quantity_col)[buy_all]
    order_code, order_cust = order_codes(codes["order"][0], c)
    n_orders = order_cust.size
    order_ts = np.full(n_orders, np.iinfo(np.int64).max)
    np.minimum.at(order_ts, order_code, t)  # an order is dated by its earliest line
    order_rev = np.bincount(order_code, weights=rev, minlength=n_orders)

    cols = order_features(order_cust, order_ts, order_rev, n_cust, as_of_ts.value, windows,
                          trend_days)  # fmt: skip
    freq = cols[s.FREQUENCY]
    has_orders = freq > 0
    f = np.where(has_orders, freq, 1).astype(float)  # customers with only returns: no 0/0

    # --- per customer, from purchase lines -------------------------------------
    cols[s.BASKET_LINES] = np.bincount(c, minlength=n_cust) / f
    cols[s.BASKET_QUANTITY] = np.bincount(c, weights=qty, minlength=n_cust) / f
    item_code, item_ids = codes["item"]
    cols[s.DISTINCT_ITEMS] = distinct_per_row(c, item_code, n_cust, len(item_ids), top=False)[0]
    returned = -np.bincount(cust_all[ret], weights=revenue[before & is_ret], minlength=n_cust)
    total = cols[s.MONETARY_TOTAL]
    with np.errstate(divide="ignore", invalid="ignore"):
        cols[s.RETURN_RATE] = np.where(
            returned == 0, 0.0, np.where(total > 0, returned / total, np.nan)
        )
    if has_category:
        if items_table is None:
            cat_code, cat_ids = codes["cat"]
        else:
            cat_code, cat_ids = categories_via_items(items_table, category_col, item_ids, item_code)
        known = cat_code >= 0
        distinct, top, n_lines = distinct_per_row(c[known], cat_code[known], n_cust, len(cat_ids))
        cols[s.DISTINCT_CATEGORIES] = distinct
        with np.errstate(divide="ignore", invalid="ignore"):
            cols[s.TOP_CATEGORY_SHARE] = np.where(n_lines > 0, top / n_lines, np.nan)

    keep = np.flatnonzero(has_orders)
    index = pd.Index(cust_ids.take(keep), name=customer_col)
    # copy=False: the columns are fresh arrays; consolidating them would copy them again.
    out = pd.DataFrame({name: values[keep] for name, values in cols.items()}, index=index,
                       copy=False)  # fmt: skip
    if customers is not None:
        out = join_customer_attributes(out, customers, as_of_ts, customer_col, signup_col)
    return out


# --- internals -----------------------------------------------------------------


def _selector(mask: np.ndarray) -> np.ndarray | None:
    """``mask``, or None when it keeps every row (so the column need not be copied)."""
    return None if mask.all() else mask


def _check_windows(windows: Sequence[int], trend_days: int) -> tuple[int, ...]:
    out = tuple(int(w) for w in windows)
    if any(w <= 0 for w in out) or len(set(out)) != len(out):
        raise KizunaInputError("must be distinct positive day counts", column="windows",
                               values=list(windows))  # fmt: skip
    if int(trend_days) <= 0:
        raise KizunaInputError("must be a positive day count", column="trend_days",
                               values=[trend_days])  # fmt: skip
    return out
