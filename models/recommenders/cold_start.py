"""Recommendations for customers without a purchase history.

A new customer who stated preferred categories (``schema.PREFERRED_CATEGORIES``,
e.g. at sign-up) gets the items selling best now in those categories; without
usable preferences, the items selling best now overall. "Now" is the
``recent_items`` given to ``fit`` (e.g. the last 7 days); ties, and the whole
ranking when no recent sales are given, fall back to all-time popularity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.base import Recommender
from kizuna.models.recommenders.ranking import PAD_ITEM, blocks, check_k, top_k


class ColdStartRecommender(Recommender):
    """Trending items, optionally narrowed to a customer's stated categories.

    Parameters
    ----------
    fill_from_other_categories
        When the preferred categories hold fewer than ``k`` allowed items,
        complete the list with trending items from other categories (scored
        below every preferred item) instead of padding with ``-1``.

    Attributes
    ----------
    trend_
        Recent sales per item, shape (n_items,).
    categories_
        ``pd.Index`` of the distinct item categories (empty without
        ``item_categories``).
    item_category_codes_
        Position of each item's category in ``categories_``, shape (n_items,);
        ``-1`` for items without a category.
    """

    def __init__(self, fill_from_other_categories: bool = True) -> None:
        self.fill_from_other_categories = fill_from_other_categories

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        self.trend_ = self.item_popularity_ if recent is None else recent
        if categories is None:
            self.categories_ = pd.Index([], dtype="string")
            self.item_category_codes_ = np.full(user_items.shape[1], -1, dtype=np.int64)
        else:
            values = pd.array(categories, dtype="string")
            codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
            self.categories_ = pd.Index(uniques, dtype="string")
            self.item_category_codes_ = codes.astype(np.int64)

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        # History is ignored by design: a customer with one should be served by
        # a model that uses it.
        return np.broadcast_to(self.trend_, (len(user_codes), self.trend_.size))

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        same = self.item_category_codes_[item_codes][:, None] == self.item_category_codes_[None, :]
        same &= self.item_category_codes_[None, :] >= 0
        return self._preferred_scores(same)

    def recommend_for_categories(
        self,
        preferences: Sequence[str | Sequence[str] | None],
        k: int = 10,
        *,
        item_mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items for customers known only by their stated categories.

        Parameters
        ----------
        preferences
            One entry per customer: a list of categories, a string of
            categories separated by ``schema.PREFERENCE_SEP`` (``"home|toys"``),
            or ``None`` / empty. Categories unknown to the catalogue are
            ignored; a customer with no known category gets trending items.
        k
            Items per customer.
        item_mask
            Boolean, shape (n_items,): True = allowed.

        Returns
        -------
        item_codes : (n, k) int64 (``-1`` pads), scores : (n, k) float64
            Preferred-category items score ``2 + t``, the others ``t``, where
            ``t`` in [0, 1] is recent sales relative to the top item, so every
            preferred item ranks above every other.
        """
        self.check_is_fitted()
        k = check_k(k)
        mask = self._check_mask(item_mask)
        wanted = self._preference_matrix(preferences)
        n = wanted.shape[0]
        out_items = np.full((n, k), PAD_ITEM, dtype=np.int64)
        out_scores = np.full((n, k), -np.inf)
        for lo, hi in blocks(n, self.n_items_):
            cat = self.item_category_codes_
            in_pref = np.zeros((hi - lo, self.n_items_), dtype=bool)
            has_cat = cat >= 0
            in_pref[:, has_cat] = wanted[lo:hi][:, cat[has_cat]]
            # A customer without any known preference is not narrowed at all.
            no_pref = ~wanted[lo:hi].any(axis=1)
            in_pref[no_pref] = True
            scores = self._preferred_scores(in_pref)
            if mask is not None:
                scores[:, ~mask] = -np.inf
            out_items[lo:hi], out_scores[lo:hi] = top_k(scores, k, self.tiebreak_order_)
        return out_items, out_scores

    def _preferred_scores(self, preferred: np.ndarray) -> np.ndarray:
        top = self.trend_.max()
        t = self.trend_ / top if top > 0 else np.zeros_like(self.trend_)
        scores = 2.0 * preferred + t[None, :]
        if not self.fill_from_other_categories:
            scores[~preferred] = -np.inf
        return scores

    def _preference_matrix(self, preferences: Sequence[str | Sequence[str] | None]) -> np.ndarray:
        """Boolean (n_customers, n_categories): which known categories each one chose."""
        if isinstance(preferences, str):
            raise KizunaInputError(
                "pass one entry per customer (a list), not a single string",
                column=s.PREFERRED_CATEGORIES, values=[preferences],
            )  # fmt: skip
        n = len(preferences)
        out = np.zeros((n, len(self.categories_)), dtype=bool)
        rows: list[np.ndarray] = []
        labels: list[str] = []
        for j, entry in enumerate(preferences):
            chosen = _split_preferences(entry)
            labels.extend(chosen)
            rows.append(np.full(len(chosen), j, dtype=np.int64))
        if labels:
            cols = self.categories_.get_indexer(pd.Index(labels, dtype="string"))
            r = np.concatenate(rows)
            known = cols >= 0
            out[r[known], cols[known]] = True
        return out


def _split_preferences(entry: str | Sequence[str] | None) -> list[str]:
    if entry is None or entry is pd.NA or (isinstance(entry, float) and np.isnan(entry)):
        return []
    if isinstance(entry, str):
        parts = entry.split(s.PREFERENCE_SEP)
    else:
        parts = [str(x) for x in entry]
    return [p.strip() for p in parts if p is not None and str(p).strip()]
