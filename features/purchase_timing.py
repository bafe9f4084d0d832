"""When each customer bought each item: the timing inputs of the recommender's re-ranker.

Pure data, as of an instant: only purchases with ``timestamp < as_of`` (returns
excluded) are read, and every figure is in days before ``as_of``. Pairs are
aligned with an interaction matrix's id maps (``features.interactions``): the
same user and item codes, and ``n_orders`` equals its ``count`` weighting
(distinct orders per user x item).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp
from kizuna.features.columnar import DAY_NS, bool_values, numeric_values, timestamps_ns
from kizuna.features.id_codes import factorize_ids, id_positions, order_codes


@dataclass(frozen=True, eq=False)
class PurchaseTiming:
    """Days since purchases, per user x item pair, per user and per item.

    Attributes
    ----------
    as_of
        The instant the days are counted back from.
    last_days, first_days
        ``csr_matrix`` (n_users, n_items) float64: days since the user's last
        / first order containing the item (explicit entries only where they
        bought it; an entry may be 0 after a live update).
    recent_orders
        ``csr_matrix`` (n_users, n_items): the user's orders of the item in
        the ``recent_days`` before ``as_of``.
    user_last_days, user_first_days
        Days since the user's last / first order, shape (n_users,) (NaN: none).
    user_orders
        Distinct orders per user, shape (n_users,).
    user_price
        Median unit price the user paid, shape (n_users,) (NaN: none).
    item_age_days
        Days since the item's first sale to anyone, shape (n_items,) (NaN: none).
    item_interval
        Median over the item's repeat buyers of their mean days between
        orders of it, shape (n_items,) (NaN: nobody bought it twice).
    item_price
        Median unit price of the item, shape (n_items,) (NaN: never sold).
    """

    as_of: pd.Timestamp
    last_days: sp.csr_matrix
    first_days: sp.csr_matrix
    recent_orders: sp.csr_matrix
    user_last_days: np.ndarray
    user_first_days: np.ndarray
    user_orders: np.ndarray
    user_price: np.ndarray
    item_age_days: np.ndarray
    item_interval: np.ndarray
    item_price: np.ndarray


def purchase_timing(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    user_ids: pd.Index,
    item_ids: pd.Index,
    *,
    recent_days: float = 90.0,
) -> PurchaseTiming:
    """Timing of purchases before ``as_of`` on the codes of ``user_ids`` x ``item_ids``.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, n_columns).
    as_of
        Exclusive instant: rows at or after it are not read.
    user_ids, item_ids
        The id maps (position = code); rows of other ids are left out.
    recent_days
        Window of ``recent_orders``.

    Returns
    -------
    PurchaseTiming
    """
    as_of_ts = as_of_timestamp(as_of)
    ts = timestamps_ns(transactions[s.TIMESTAMP], column=s.TIMESTAMP)
    keep = (ts < as_of_ts.value) & ~bool_values(transactions[s.IS_RETURN], column=s.IS_RETURN)
    rows = transactions.loc[keep]
    ts = ts[keep]
    u = id_positions(rows[s.CUSTOMER_ID].array, user_ids)
    i = id_positions(rows[s.ITEM_ID].array, item_ids)
    price = numeric_values(rows[s.UNIT_PRICE], column=s.UNIT_PRICE)
    n_users, n_items = len(user_ids), len(item_ids)
    known = (u >= 0) & (i >= 0)
    # Orders numbered over the kept rows only: order_codes needs codes without gaps (a gap
    # left an order with no customer, read from uninitialised memory).
    o, _ = factorize_ids(rows[s.ORDER_ID].array[known], column=s.ORDER_ID)
    u, i, ts, price = u[known], i[known], ts[known], price[known]
    days = (as_of_ts.value - ts) / DAY_NS
    basket, basket_user = order_codes(o, u)
    # One time per order (its earliest line), so an order's lines count once.
    basket_days = np.zeros(basket_user.size)
    np.maximum.at(basket_days, basket, days)
    # Distinct (order, item) pairs, then min / max of the order days per (user, item).
    key = np.unique(basket.astype(np.int64) * max(n_items, 1) + i)
    pair_b, pair_i = key // max(n_items, 1), key % max(n_items, 1)
    pair_u, pair_days = basket_user[pair_b], basket_days[pair_b]
    last, first, n_orders = _pair_stats(pair_u, pair_i, pair_days, n_users, n_items)
    near = pair_days < recent_days
    recent = sp.csr_matrix(
        (np.ones(int(near.sum())), (pair_u[near], pair_i[near])), shape=(n_users, n_items)
    )  # duplicates summed: orders per pair
    return PurchaseTiming(
        as_of=as_of_ts,
        last_days=last,
        first_days=first,
        recent_orders=recent.tocsr(),
        user_last_days=_reduce(basket_user, basket_days, np.minimum, n_users),
        user_first_days=_reduce(basket_user, basket_days, np.maximum, n_users),
        user_orders=np.bincount(basket_user, minlength=n_users).astype(np.float64),
        user_price=_medians(u, price, n_users),
        item_age_days=_reduce(i, days, np.maximum, n_items),
        item_interval=_item_intervals(first, last, n_orders),
        item_price=_medians(i, price, n_items),
    )


def own_interval(first: np.ndarray, last: np.ndarray, n_orders: np.ndarray) -> np.ndarray:
    """Mean days between a customer's orders of an item: (first - last) / (n - 1); NaN below 2.

    Parameters
    ----------
    first, last
        Days before ``as_of`` of the first and the last order of each (customer, item),
        shape (n,) (so ``first >= last``).
    n_orders
        Orders of the item by the customer, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n,), days; NaN below two orders.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_orders >= 2, (first - last) / (n_orders - 1), np.nan)


def _pair_stats(
    u: np.ndarray, i: np.ndarray, days: np.ndarray, n_users: int, n_items: int
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Last and first order days per (user, item) as CSR, and the orders per pair (nnz,)."""
    width = max(n_items, 1)
    uniq, inverse, counts = np.unique(
        u.astype(np.int64) * width + i, return_inverse=True, return_counts=True
    )
    last, first = np.full(uniq.size, np.inf), np.full(uniq.size, -np.inf)
    np.minimum.at(last, inverse, days)
    np.maximum.at(first, inverse, days)
    # Built from sorted unique keys: canonical CSR, entries kept even where 0.
    indptr = np.searchsorted(uniq // width, np.arange(n_users + 1))
    cols = uniq % width
    shape = (n_users, n_items)
    return (
        sp.csr_matrix((last, cols, indptr), shape=shape),
        sp.csr_matrix((first, cols.copy(), indptr.copy()), shape=shape),
        counts.astype(np.float64),
    )


def _reduce(codes: np.ndarray, values: np.ndarray, op: np.ufunc, n: int) -> np.ndarray:
    start = np.inf if op is np.minimum else -np.inf
    out = np.full(n, start)
    op.at(out, codes, values)
    out[~np.isfinite(out)] = np.nan
    return out


def _medians(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    if codes.size:
        med = pd.Series(values).groupby(codes).median()
        out[med.index.to_numpy()] = med.to_numpy()
    return out


def _item_intervals(first: sp.csr_matrix, last: sp.csr_matrix, n: np.ndarray) -> np.ndarray:
    """Median own interval over each item's repeat buyers, shape (n_items,)."""
    gaps = own_interval(first.data, last.data, n)
    ok = np.isfinite(gaps)
    return _medians(first.indices[ok], gaps[ok], first.shape[1])
