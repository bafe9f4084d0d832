"""Popularity baselines: the same list for everyone, and "buy again"."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.base import Recommender


class PopularityRecommender(Recommender):
    """Every user gets the items with the most purchases (global popularity).

    Parameters
    ----------
    count
        ``"purchases"``: sum of the matrix column (distinct orders, with
        ``features.interactions`` counts); ``"customers"``: number of
        distinct buyers.
    trending
        Rank by ``recent_items`` given to ``fit`` (what sells now) instead of
        all-time; ties, and every item when ``recent_items`` is not given,
        fall back to all-time popularity.

    Attributes
    ----------
    popularity_
        The ranking score of each item, shape (n_items,).
    """

    fit_inputs: ClassVar[tuple[str, ...]] = ("user_items", "recent_items")

    def __init__(
        self, count: Literal["purchases", "customers"] = "purchases", trending: bool = False
    ) -> None:
        self.count = count
        self.trending = trending

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        if self.count == "purchases":
            popularity = np.asarray(user_items.sum(axis=0), dtype=np.float64).ravel()
        elif self.count == "customers":
            popularity = np.bincount(
                user_items.indices[user_items.data > 0], minlength=user_items.shape[1]
            ).astype(np.float64)
        else:
            raise KizunaInputError(
                "must be 'purchases' or 'customers'", column="count", values=[self.count]
            )
        self.popularity_ = recent if (self.trending and recent is not None) else popularity

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(user_codes), self.popularity_.size))

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        # Popularity knows no item relations; "also bought" degrades to "popular".
        return np.broadcast_to(self.popularity_, (len(item_codes), self.popularity_.size))


class PersonalPopularityRecommender(Recommender):
    """ "Buy again": the user's own most-bought items, ties by global popularity.

    The score is the user's purchase strength (the row of ``user_items`` given
    to ``recommend``); items the user never bought are never recommended, so
    a user with an empty history, or ``exclude_seen=True``, gets only padding.
    """

    fit_inputs: ClassVar[tuple[str, ...]] = ("user_items",)

    only_seen_items: ClassVar[bool] = True

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        pass  # all it needs is the popularity tie-break that the base class learns

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        dense = user_items.toarray().astype(np.float64)
        dense[dense <= 0] = -np.inf
        return dense

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_popularity_, (len(item_codes), self.item_popularity_.size))
