"""The user x item interaction matrix that the recommenders train on.

An interaction is a purchase before ``as_of`` (returns excluded). The raw
strength of a (user, item) pair is the number of *distinct orders* that contain
the item: a second line of the same item in one order, or a large quantity,
does not count again, so one bulk order does not outweigh repeated buying,
which is the signal of preference. The weighting of the counts (BM25, TF-IDF, log)
is :class:`features.interaction_weights.InteractionWeigher`, re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp
from kizuna.features.columnar import (
    DAY_NS,
    bool_values,
    require_transaction_columns,
    run_parallel,
    timestamps_ns,
)
from kizuna.features.errors import KizunaInputError
from kizuna.features.id_codes import factorize_ids, id_positions, order_codes
from kizuna.features.interaction_weights import WEIGHTINGS, InteractionWeigher, Weighting

__all__ = [
    "WEIGHTINGS",
    "InteractionWeigher",
    "Interactions",
    "Weighting",
    "build_interactions",
]


@dataclass(frozen=True, eq=False)
class Interactions:
    """A user x item matrix with the id maps that give its rows and columns meaning.

    Attributes
    ----------
    matrix
        ``scipy.sparse.csr_matrix`` float32, shape (n_users, n_items), canonical
        (sorted indices, no duplicates).
    user_ids, item_ids
        ``pd.Index`` of string ids; position = row / column. Built sorted, so
        the same ids always give the same map; a reused map keeps its order.
    weighting, half_life_days, as_of
        How the matrix was built.
    n_dropped_rows
        Purchase lines before ``as_of`` left out because their user or item is
        not in a reused map (0 when the maps are built from the data).
    """

    matrix: sp.csr_matrix
    user_ids: pd.Index
    item_ids: pd.Index
    weighting: str
    half_life_days: float | None
    as_of: pd.Timestamp
    n_dropped_rows: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def user_codes(self, ids: Iterable[str]) -> np.ndarray:
        """Row of each user id, shape (n,) int64; -1 for ids not in the map.

        Parameters
        ----------
        ids
            User ids, shape (n,).

        Returns
        -------
        numpy.ndarray
            Shape (n,), int64.
        """
        return _codes(self.user_ids, ids)

    def item_codes(self, ids: Iterable[str]) -> np.ndarray:
        """Column of each item id, shape (n,) int64; -1 for ids not in the map.

        Parameters
        ----------
        ids
            Item ids, shape (n,).

        Returns
        -------
        numpy.ndarray
            Shape (n,), int64.
        """
        return _codes(self.item_ids, ids)


def build_interactions(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    weighting: Weighting = "count",
    half_life_days: float | None = None,
    user_ids: Iterable[str] | None = None,
    item_ids: Iterable[str] | None = None,
    bm25_k1: float = 100.0,
    bm25_b: float = 0.8,
    customer_col: str = s.CUSTOMER_ID,
    item_col: str = s.ITEM_ID,
    order_col: str = s.ORDER_ID,
    timestamp_col: str = s.TIMESTAMP,
    is_return_col: str = s.IS_RETURN,
) -> Interactions:
    """Build the weighted user x item matrix from purchases before ``as_of``.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, n_columns).
    as_of
        Exclusive snapshot instant: only ``timestamp < as_of`` is used.
    weighting
        ``"count"``: distinct orders containing the item; ``"log"``:
        ``log1p(count)``; ``"bm25"`` / ``"tfidf"``: equal to implicit's
        ``bm25_weight`` / ``tfidf_weight`` of the counts (see
        :class:`InteractionWeigher`, which weighs new rows the same way).
    half_life_days
        If given, each (order, item) purchase counts ``0.5 ** (age_days /
        half_life_days)`` instead of 1, ``age_days`` measured from the order's
        earliest line to ``as_of``; the weighting is applied afterwards.
    user_ids, item_ids
        Reuse an existing map (e.g. the training map when building a test
        matrix). Purchases of unknown users or items are dropped and counted in
        ``n_dropped_rows``. Without a map, all users / items with a purchase
        before ``as_of`` are used, sorted.
    bm25_k1, bm25_b
        BM25 parameters (implicit's defaults).
    customer_col, item_col, order_col, timestamp_col, is_return_col
        Column names (the canonical ones by default).

    Returns
    -------
    Interactions
    """
    as_of_ts = as_of_timestamp(as_of)
    if weighting not in WEIGHTINGS:
        raise KizunaInputError(f"must be one of {list(WEIGHTINGS)}", column="weighting",
                               values=[weighting])  # fmt: skip
    if half_life_days is not None and not float(half_life_days) > 0:
        raise KizunaInputError("must be a positive number of days", column="half_life_days",
                               values=[half_life_days])  # fmt: skip
    require_transaction_columns(
        transactions, (customer_col, item_col, order_col, timestamp_col, is_return_col)
    )
    ts = timestamps_ns(transactions[timestamp_col], column=timestamp_col)
    keep = (ts < as_of_ts.value) & ~bool_values(transactions[is_return_col], column=is_return_col)
    sel = None if keep.all() else keep

    def col(name: str) -> pd.api.extensions.ExtensionArray:
        arr = transactions[name].array
        return arr if sel is None else arr[sel]

    codes = run_parallel(
        {
            "user": lambda: _encode(col(customer_col), user_ids, column=customer_col, runs=True),
            "item": lambda: _encode(col(item_col), item_ids, column=item_col),
            "order": lambda: factorize_ids(col(order_col), column=order_col),
        }
    )
    (u, user_index), (i, item_index), (o, _) = codes["user"], codes["item"], codes["order"]
    if sel is not None:
        ts = ts[sel]
    known = (u >= 0) & (i >= 0)
    n_dropped = int(known.size - known.sum())
    if n_dropped:
        u, i, ts, o = u[known], i[known], ts[known], o[known]

    n_users, n_items = len(user_index), len(item_index)
    basket, basket_user = order_codes(o, u)  # an order id shared by two users is split
    if max(basket_user.size, n_users) * max(n_items, 1) >= 2**62:  # pragma: no cover
        raise KizunaInputError("too many distinct ids to pair", column=item_col)
    # Distinct (order, item) pairs, by one sort of int64 keys.
    pair_b, pair_i = _distinct_pairs(basket, i, n_items)
    pair_u = basket_user[pair_b]
    if half_life_days is None:
        weight = None
    else:
        basket_ts = np.full(basket_user.size, np.iinfo(np.int64).max)
        np.minimum.at(basket_ts, basket, ts)
        age_days = (as_of_ts.value - basket_ts[pair_b]) / DAY_NS
        weight = 0.5 ** (age_days / float(half_life_days))
    counts = _sum_to_csr(pair_u, pair_i, weight, n_users, n_items)
    matrix = InteractionWeigher(weighting, k1=bm25_k1, b=bm25_b).fit_transform(counts)
    return Interactions(
        matrix=matrix,
        user_ids=user_index,
        item_ids=item_index,
        weighting=weighting,
        half_life_days=None if half_life_days is None else float(half_life_days),
        as_of=as_of_ts,
        n_dropped_rows=n_dropped,
    )


def _distinct_pairs(a: np.ndarray, b: np.ndarray, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs, sorted by a then b; shapes (n_pairs,)."""
    keys = np.sort(a * n_b + b)
    new = np.empty(keys.size, dtype=bool)
    new[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    return np.divmod(keys[new], n_b)


def _sum_to_csr(
    rows: np.ndarray, cols: np.ndarray, weight: np.ndarray | None, n_rows: int, n_cols: int
) -> sp.csr_matrix:
    """Canonical CSR of summed weights (or counts when ``weight`` is None), float64.

    Built from one sort of the int64 keys ``row * n_cols + col``, which is
    faster than scipy's COO -> CSR conversion plus duplicate summing.
    """
    keys = rows * n_cols + cols
    if weight is None:
        keys = np.sort(keys)
    else:
        order = np.argsort(keys)
        keys, weight = keys[order], weight[order]
    new = np.empty(keys.size, dtype=bool)
    new[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    if weight is None:
        data = np.diff(np.append(starts, keys.size)).astype(np.float64)
    else:
        data = np.add.reduceat(weight, starts) if starts.size else np.zeros(0)
    row, col = np.divmod(keys[starts], max(n_cols, 1))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((data, col, indptr), shape=(n_rows, n_cols))


def _encode(
    values: pd.api.extensions.ExtensionArray,
    ids: Iterable[str] | None,
    *,
    column: str,
    runs: bool = False,
) -> tuple[np.ndarray, pd.Index]:
    if ids is None:
        return factorize_ids(values, column=column, sort=True, runs=runs)
    index = (
        ids
        if isinstance(ids, pd.Index)
        else pd.Index(ids if hasattr(ids, "__len__") else list(ids))
    )
    if index.hasnans:
        raise KizunaInputError("the id map has missing ids", column=column)
    if not index.is_unique:
        raise KizunaInputError("the id map has repeated ids", column=column,
                               values=index[index.duplicated()].unique())  # fmt: skip
    return id_positions(values, index), index


def _codes(index: pd.Index, ids: Iterable[str]) -> np.ndarray:
    if isinstance(ids, str):
        raise KizunaInputError("pass a list of ids, not a single string", values=[ids])
    values = ids if hasattr(ids, "__array__") else pd.array(list(ids), dtype=index.dtype)
    return id_positions(values, index)
