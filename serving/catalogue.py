"""The item side of the served state: ids, names, categories, stock and trending items.

:func:`build_catalogue` runs when a snapshot is written (training side);
the service reads the result back from the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.bundles import RecommenderBundle

TRENDING_DAYS = 30


@dataclass
class Catalogue:
    """Items by code (the recommender's item map when there is one).

    Attributes
    ----------
    item_ids
        Code -> id, shape (n_items,).
    names, categories
        Object arrays, shape (n_items,); None where unknown.
    in_stock
        Bool, shape (n_items,); all True without stock information.
    recent_buyers
        Distinct buyers of each item in the ``TRENDING_DAYS`` before ``as_of``,
        shape (n_items,): what the cold-start fallback ranks by.
    """

    item_ids: pd.Index
    names: np.ndarray
    categories: np.ndarray
    in_stock: np.ndarray
    recent_buyers: np.ndarray
    has_stock: bool = False
    _by_category: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_category = {}
        cats = pd.Series(self.categories, dtype=object)
        known = cats.notna().to_numpy()
        for name in pd.unique(cats[known]):
            self._by_category.setdefault(str(name).casefold(), np.zeros(len(cats), dtype=bool))
            self._by_category[str(name).casefold()] |= (cats == name).to_numpy()

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def category_names(self) -> list[str]:
        return sorted({str(c) for c in self.categories if c is not None})

    def codes(self, ids: list[str]) -> np.ndarray:
        """Code per item id, shape (n,); -1 for unknown ids.

        Parameters
        ----------
        ids
            Item ids, n of them.

        Returns
        -------
        numpy.ndarray
            Shape (n,), int64.
        """
        return self.item_ids.get_indexer(ids).astype(np.int64, copy=False)

    def mask(
        self,
        *,
        categories: list[str] | None = None,
        in_stock_only: bool = False,
        exclude_items: list[str] | None = None,
    ) -> np.ndarray:
        """Allowed items, bool shape (n_items,).

        Parameters
        ----------
        categories
            Allow only items of these categories; None for all.
        in_stock_only
            Allow only items in stock.
        exclude_items
            Item ids never to allow.

        Returns
        -------
        numpy.ndarray
            Shape (n_items,), bool.

        Raises
        ------
        KizunaInputError
            For a category the catalogue does not know.
        """
        allowed = self.in_stock.copy() if in_stock_only else np.ones(self.n_items, dtype=bool)
        if categories:
            unknown = [c for c in categories if c.casefold() not in self._by_category]
            if unknown:
                known = (
                    ", ".join(self.category_names[:30]) or "none: the catalogue has no categories"
                )
                raise KizunaInputError(f"unknown categories {unknown[:5]}; known: {known}")
            chosen = np.zeros(self.n_items, dtype=bool)
            for c in categories:
                chosen |= self._by_category[c.casefold()]
            allowed &= chosen
        if exclude_items:
            codes = self.codes(exclude_items)
            allowed[codes[codes >= 0]] = False
        return allowed


@dataclass(frozen=True)
class LineStats:
    """What the catalogue reads from the purchase lines, already aggregated.

    The pandas engine computes it from a frame (:func:`line_stats`); the Spark
    engine by aggregations, so both build the catalogue with one function.

    Attributes
    ----------
    purchased
        Distinct item ids with a purchase, text, shape (n,).
    category_counts
        ``item_id``, ``category``, ``n``: purchase lines per pair (None without categories).
    recent
        Distinct buyers per item id in the ``TRENDING_DAYS`` before ``as_of``.
    """

    purchased: pd.Index
    category_counts: pd.DataFrame | None
    recent: pd.Series


def line_stats(transactions: pd.DataFrame, as_of: pd.Timestamp) -> LineStats:
    """The catalogue's statistics of validated lines, shape (n, k).

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    as_of
        The snapshot's instant.

    Returns
    -------
    LineStats
    """
    purchases = transactions[~transactions[s.IS_RETURN].to_numpy()]
    items = purchases[s.ITEM_ID].astype(str)
    counts = None
    if s.CATEGORY in purchases.columns:
        lines = purchases[[s.ITEM_ID, s.CATEGORY]].dropna()
        counts = (
            lines.groupby([s.ITEM_ID, s.CATEGORY], observed=True).size().rename("n").reset_index()
        )
    recent_rows = (purchases[s.TIMESTAMP] >= as_of - pd.Timedelta(days=TRENDING_DAYS)).to_numpy()
    pairs = pd.DataFrame(
        {"i": items.to_numpy()[recent_rows], "c": purchases[s.CUSTOMER_ID].to_numpy()[recent_rows]}
    ).drop_duplicates()
    return LineStats(
        purchased=pd.Index(pd.unique(items)),
        category_counts=counts,
        recent=pairs.groupby("i").size(),
    )


def most_frequent(counts: pd.DataFrame, key: str, value: str) -> pd.DataFrame:
    """The most frequent ``value`` per ``key`` (ties: the smallest value), from pair counts ``n``.

    Parameters
    ----------
    counts
        Pair counts: columns ``key``, ``value`` and ``n``.
    key, value
        The column to group by and the column whose most frequent value is kept.

    Returns
    -------
    pandas.DataFrame
        One row per ``key``: ``key`` and ``value``.
    """
    return counts.sort_values(["n", value], ascending=[False, True], kind="stable").drop_duplicates(
        key
    )


def build_catalogue(
    transactions: pd.DataFrame | LineStats,
    as_of: pd.Timestamp,
    *,
    item_ids: pd.Index | None,
    items: pd.DataFrame | None,
    recommender: RecommenderBundle | None,
    line_names: pd.Series | None = None,
) -> Catalogue:
    """Item map, names, categories, stock and trending items as of ``as_of``.

    ``transactions`` are validated lines, or their :class:`LineStats`.
    ``line_names`` (item id -> name, e.g. from an export's description
    column) names the items the catalogue table does not.

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k), or their :class:`LineStats`.
    as_of
        The snapshot's instant.
    item_ids
        The recommender's item ids (its columns), or None.
    items
        The validated items table, or None.
    recommender
        The recommender bundle, or None.
    line_names
        Item id -> name, or None.

    Returns
    -------
    Catalogue
    """
    stats = transactions if isinstance(transactions, LineStats) else line_stats(transactions, as_of)
    if item_ids is None:
        seen = pd.Index(stats.purchased.astype(str))
        if items is not None:
            seen = seen.union(items.index.astype(str))
        item_ids = seen.sort_values()
    n = len(item_ids)
    names = np.full(n, None, dtype=object)
    categories = np.full(n, None, dtype=object)
    in_stock = np.ones(n, dtype=bool)
    has_stock = False
    if recommender is not None and recommender.item_categories is not None:
        cats = pd.Series(recommender.item_categories).to_numpy(dtype=object)
        if len(cats) == n:
            categories[:] = [None if pd.isna(c) else str(c) for c in cats]
    if stats.category_counts is not None and len(stats.category_counts):
        # The most frequent category of each item's lines fills what the bundle lacks.
        top = most_frequent(stats.category_counts, s.ITEM_ID, s.CATEGORY)
        pos = item_ids.get_indexer(top[s.ITEM_ID].astype(str))
        fill = pos >= 0
        for p, c in zip(pos[fill], top[s.CATEGORY].to_numpy()[fill], strict=True):
            if categories[p] is None:
                categories[p] = str(c)
    if line_names is not None and len(line_names):
        pos = item_ids.get_indexer(line_names.index.astype(str))
        ok = pos >= 0
        names[pos[ok]] = line_names.to_numpy(dtype=object)[ok]
    if items is not None:
        pos = item_ids.get_indexer(items.index.astype(str))
        ok = pos >= 0
        if s.NAME in items.columns:
            names[pos[ok]] = [None if pd.isna(v) else str(v) for v in items[s.NAME].to_numpy()[ok]]
        if s.CATEGORY in items.columns:
            vals = items[s.CATEGORY].to_numpy(dtype=object)[ok]
            for p, c in zip(pos[ok], vals, strict=True):
                if not pd.isna(c):
                    categories[p] = str(c)
        if s.IN_STOCK in items.columns:
            has_stock = True
            stock = items[s.IN_STOCK].to_numpy(dtype=object)[ok]
            in_stock[pos[ok]] = [bool(v) if not pd.isna(v) else True for v in stock]
    recent = stats.recent.reindex(item_ids.astype(str)).fillna(0).to_numpy(dtype=float)
    return Catalogue(
        item_ids=item_ids,
        names=names,
        categories=categories,
        in_stock=in_stock,
        recent_buyers=recent,
        has_stock=has_stock,
    )


def item_names_from_lines(transactions: pd.DataFrame) -> pd.Series | None:
    """Most frequent ``description`` per item (Online Retail carries one per line).

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).

    Returns
    -------
    pandas.Series or None
        Item id -> name; None without a ``description`` column.
    """
    if "description" not in transactions.columns:
        return None
    lines = transactions[[s.ITEM_ID, "description"]].dropna()
    if lines.empty:
        return None
    counts = lines.groupby([s.ITEM_ID, "description"], observed=True).size().rename("n")
    return names_from_counts(counts.reset_index())


def names_from_counts(counts: pd.DataFrame) -> pd.Series | None:
    """Item names from ``item_id``, ``description``, ``n`` (lines per pair): the most frequent.

    Parameters
    ----------
    counts
        Columns ``item_id``, ``description``, ``n``.

    Returns
    -------
    pandas.Series or None
        Item id -> name; None without counts.
    """
    if counts.empty:
        return None
    top = most_frequent(counts, s.ITEM_ID, "description")
    return pd.Series(
        top["description"].astype(str).str.strip().to_numpy(dtype=object),
        index=top[s.ITEM_ID].astype(str).to_numpy(),
    )
