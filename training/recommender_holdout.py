"""The recommenders' time-split holdout: training matrix, recent sales and ground truth.

The holdout (conventions of ``features.labels``):

* training interactions: purchases with ``timestamp < as_of``
  (``features.interactions.build_interactions``, distinct orders per
  user x item);
* "what sells now" for trending components: the same counts over
  ``[as_of - trend_days, as_of)``;
* ground truth: for each customer with a purchase before ``as_of`` *and* one
  in ``[as_of, as_of + horizon_days)``, the distinct items bought in that
  window. Items first sold in the window get codes past the training
  catalogue: they count in the size of the truth but no model can hit them.

Two modes:

* ``all``: repeat purchases count; recommendations may include seen items.
* ``new``: items the customer bought before ``as_of`` are removed from both the
  truth and the recommendations; customers left with an empty truth drop out.

:mod:`training.recommender_eval` fits and scores models on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.as_of import as_of_timestamp
from kizuna.features.columnar import DAY_NS, require_transaction_columns, timestamps_ns
from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import Interactions, build_interactions


@dataclass(frozen=True, eq=False)
class RecommenderHoldout:
    """Everything a time-split evaluation needs, in item / user codes.

    Attributes
    ----------
    train
        Training interactions (distinct orders), shape (n_users, n_items).
    recent
        ``csr_matrix`` (n_users, n_items): the same counts over the last
        ``trend_days`` before ``as_of``.
    user_codes
        Evaluated customers (bought before and in the window), shape (n_eval,).
    truth
        ``{"all": csr, "new": csr}``, each shape (n_eval, n_items + n_new_items).
    new_item_ids
        Items first bought in the window (codes ``n_items ...``).
    item_categories
        Category per training item, shape (n_items,), or ``None`` without a
        category column.
    item_share
        Share of training customers who bought each item, shape (n_items,):
        the popularity in ``mean_popularity``.
    excludes_training
        The truth holds no training item by construction (the ``random_user``
        protocol): the ``all`` mode is then judged, like ``new``, on rankings
        with the customer's training items excluded, as published benchmarks do.
    """

    train: Interactions
    recent: sp.csr_matrix
    user_codes: np.ndarray
    truth: dict[str, sp.csr_matrix]
    new_item_ids: pd.Index
    item_categories: np.ndarray | None
    item_share: np.ndarray
    as_of: pd.Timestamp
    horizon_days: float
    trend_days: float
    excludes_training: bool = False

    @property
    def n_items(self) -> int:
        return self.train.matrix.shape[1]

    def excludes_seen(self, mode: str) -> bool:
        """Whether rankings judged in ``mode`` leave out the customer's training items.

        Parameters
        ----------
        mode
            ``"all"`` or ``"new"``.

        Returns
        -------
        bool
        """
        return mode == "new" or self.excludes_training


def holdout_split(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    horizon_days: float = 90,
    *,
    trend_days: float = 7,
    customer_col: str = s.CUSTOMER_ID,
    item_col: str = s.ITEM_ID,
    order_col: str = s.ORDER_ID,
    timestamp_col: str = s.TIMESTAMP,
    is_return_col: str = s.IS_RETURN,
    category_col: str = s.CATEGORY,
) -> RecommenderHoldout:
    """Build the training matrix, the recent-sales matrix and both ground truths.

    Parameters
    ----------
    transactions
        Validated transactions, shape (n_rows, n_columns); purchases are the
        rows with ``is_return == False``.
    as_of
        Split instant: training sees ``timestamp < as_of``.
    horizon_days
        Length of the truth window ``[as_of, as_of + horizon_days)``.
    trend_days
        Length of the recent-sales window ``[as_of - trend_days, as_of)``.
    customer_col, item_col, order_col, timestamp_col, is_return_col, category_col
        Column names (the canonical ones by default).

    Returns
    -------
    RecommenderHoldout
    """
    as_of_ts = as_of_timestamp(as_of)
    for name, value in (("horizon_days", horizon_days), ("trend_days", trend_days)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise KizunaInputError("must be a positive number of days", column=name,
                                   values=[value])  # fmt: skip
    cols = dict(customer_col=customer_col, item_col=item_col, order_col=order_col,
                timestamp_col=timestamp_col, is_return_col=is_return_col)  # fmt: skip
    require_transaction_columns(transactions, list(cols.values()))
    ts = timestamps_ns(transactions[timestamp_col], column=timestamp_col)
    start, end = as_of_ts.value, as_of_ts.value + int(round(horizon_days * DAY_NS))

    train = build_interactions(transactions, as_of_ts, **cols)
    if train.matrix.nnz == 0:
        raise KizunaInputError(
            f"no purchases before as_of={as_of_ts}; choose a later split", column=timestamp_col
        )
    recent_rows = transactions.loc[ts >= start - int(round(trend_days * DAY_NS))]
    recent = build_interactions(
        recent_rows, as_of_ts, user_ids=train.user_ids, item_ids=train.item_ids, **cols
    ).matrix

    window = transactions.loc[(ts >= start) & (ts < end)]
    buys = window.loc[~window[is_return_col].to_numpy(dtype=bool)]
    known_user = train.user_ids.get_indexer(buys[customer_col].array) >= 0
    window_items = pd.unique(buys[item_col].array[known_user])
    new_items = pd.Index(window_items[train.item_ids.get_indexer(window_items) < 0]).sort_values()
    all_items = train.item_ids.append(new_items)
    future = build_interactions(
        window, pd.Timestamp(end), user_ids=train.user_ids, item_ids=all_items, **cols
    ).matrix
    active = np.flatnonzero(np.diff(future.indptr) > 0)
    active = active[np.diff(train.matrix.indptr)[active] > 0]
    truth_all = _binary(future[active])
    seen = sp.hstack(
        [train.matrix[active], sp.csr_matrix((len(active), len(new_items)))], format="csr"
    )
    truth_new = _binary(truth_all - truth_all.multiply(_binary(seen)))

    categories = None
    if category_col in transactions.columns:
        categories = item_categories(
            transactions.loc[ts < start], train.item_ids, item_col, category_col
        )
    n_users = train.matrix.shape[0]
    item_share = np.diff(train.matrix.tocsc().indptr) / max(n_users, 1)
    return RecommenderHoldout(
        train=train,
        recent=recent,
        user_codes=active.astype(np.int64),
        truth={"all": truth_all, "new": truth_new},
        new_item_ids=new_items,
        item_categories=categories,
        item_share=item_share.astype(np.float64),
        as_of=as_of_ts,
        horizon_days=float(horizon_days),
        trend_days=float(trend_days),
    )


def _binary(m: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(m, dtype=np.float32)
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out


def item_categories(
    transactions: pd.DataFrame, item_ids: pd.Index, item_col: str, category_col: str
) -> np.ndarray:
    """The most frequent category of each item (ties: the lower label; missing -> NA).

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    item_ids
        The item ids, shape (n_items,).
    item_col, category_col
        The item and category columns.

    Returns
    -------
    numpy.ndarray
        Shape (n_items,), object; NA where unknown.
    """
    pairs = transactions[[item_col, category_col]].dropna()
    counts = pairs.groupby([item_col, category_col], observed=True).size()
    if counts.empty:
        return pd.array([pd.NA] * len(item_ids), dtype="string").to_numpy()
    top = counts.sort_values(ascending=False, kind="stable").reset_index()
    top = top.drop_duplicates(item_col).set_index(item_col)[category_col]
    return pd.array(top.reindex(item_ids).to_numpy(), dtype="string").to_numpy()
