"""The served recommender: repurchase and collaborative signals blended per user.

Score of item ``i`` for user ``u`` (every component scaled to [0, 1]):

    repurchase_weight * R(u, i) + item_knn_weight * K(u, i) + als_weight * A(u, i)
        + trending_weight * T(i) + ease_weight * E(u, i)

* ``R`` ("bought before"): the user's purchase count of the item times
  ``(1 + recent sales of the item) ** repurchase_trend_power``, divided by the
  user's largest such value. Among items a customer buys equally often, the
  ones selling now are the ones bought again. ``R`` is zero for items the user
  never bought.
* ``K`` ("similar to X"): BM25 item-kNN score, divided by the user's maximum.
* ``A`` ("customers like you"): ALS score, clipped at 0, divided by the
  user's maximum.
* ``T`` ("popular now"): sales in ``recent_items`` given to ``fit`` (all-time
  sales without it), divided by the top item's.
* ``E`` ("often bought with X"): EASE score (closed-form item-item
  regression, :class:`~models.recommenders.ease.EASERecommender`), clipped at
  0, divided by the user's maximum. Left out (zero) when the catalogue is
  larger than ``ease_max_items``.

Two blends. Recommending *any* item (``exclude_seen=False``) and recommending
only items the customer never bought (``exclude_seen=True``) are different
tasks: the first is mostly "buy again", ordered and topped up by the other
signals; the second is pure discovery, where co-purchase structure and what
sells now carry more weight. So the ``new_*`` weights replace the
collaborative weights when ``exclude_seen=True`` (``R`` is zero there anyway).

On a shop where nobody buys an item twice, the ``all`` blend would spend its
slots on the customer's own items; ``seen_in_all=False`` (chosen on validation
by ``tune_blend`` when it ranks better there) leaves them out of the ``all``
mode too, whose weights are then tuned on new items.

Per-user max scaling makes the weights comparable across users with short and
long histories. A component whose weight is 0 in both blends is not fitted.

Defaults are the weights ``training.blend_tuning.tune_blend`` chooses on
Online Retail's validation split (as_of 2011-06-12, 90-day truth window, so
strictly before the 2011-09-10 test holdout); EASE's regularisation (300) and
neighbours (50) were chosen on the validation splits 2011-04-13, 2011-05-13
and 2011-06-12 and on the synthetic demo shop's 2024-01-05 / 04-04 / 07-03
splits. On those splits, per-customer recency decay of the repurchase signal,
a co-purchase ("same order") item-kNN, rank-based instead of max scaling,
longer or decayed trending windows, binarised or damped kNN input, BPR and
other ALS settings gave no consistent gain and are not part of the model.

Walk-forward check of the whole procedure on Online Retail (weights tuned at
as_of - 90 days, scored at as_of, NDCG@10 over the best single model): as_of
2011-06-12 ``all`` +7.6% / ``new`` +11.3% (one shared blend before: +7.8% /
+8.4%), as_of 2011-05-13 +5.3% / +14.7% (before: +5.2% / +9.8%). The holdout figures
are in the README's results tables (``benchmarks/results_tables.py``).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from kizuna.models.recommenders.base import Recommender
from kizuna.models.recommenders.ease import EASERecommender
from kizuna.models.recommenders.hybrid_reasons import (
    ALS,
    ANCHORED,
    COMPONENTS,
    EASE,
    ITEM_KNN,
    REASONS,
    REPURCHASE,
    TRENDING,
    Explained,
    HybridReasons,
)
from kizuna.models.recommenders.hybrid_scoring import HybridScoring
from kizuna.models.recommenders.implicit_models import ALSRecommender, ItemKNNRecommender

__all__ = [
    "ALS",
    "ANCHORED",
    "COMPONENTS",
    "EASE",
    "ITEM_KNN",
    "REASONS",
    "REPURCHASE",
    "TRENDING",
    "Explained",
    "HybridRecommender",
]


class HybridRecommender(HybridScoring, HybridReasons, Recommender):
    """Repurchase + item-kNN + ALS + trending + EASE, blended with per-user scaling.

    Parameters
    ----------
    repurchase_weight, item_knn_weight, als_weight, trending_weight, ease_weight
        Blend weights (non-negative, not all zero) for recommending any item.
    new_item_knn_weight, new_als_weight, new_trending_weight, new_ease_weight
        Blend weights (non-negative) when only new items are asked for
        (``exclude_seen=True``), and for :meth:`similar_items`.
    seen_in_all
        False: recommending any item leaves the customer's own items out too
        (for shops without repeat purchases); see :meth:`drops_seen`.
    repurchase_trend_power
        Exponent of ``(1 + recent sales)`` multiplying the user's own counts.
    knn_neighbours, knn_bm25_k1, knn_bm25_b
        :class:`ItemKNNRecommender` parameters (BM25 similarity).
    als_factors, als_regularization, als_iterations
        :class:`ALSRecommender` parameters (BM25 weights).
    ease_regularization, ease_neighbours, ease_max_items
        :class:`EASERecommender` parameters; above ``ease_max_items`` items
        the EASE component is skipped (with a warning).
    random_state, num_threads
        Passed to ALS (threads also to the kNN and EASE fits).

    Attributes
    ----------
    item_knn_, als_, ease_
        The fitted components (``None`` when not used).
    trend_
        Recent sales per item, shape (n_items,).
    trend_scaled_, repurchase_boost_
        ``T`` and the repurchase multiplier per item, shape (n_items,).
    """

    fit_inputs: ClassVar[tuple[str, ...]] = ("user_items", "recent_items")

    def __init__(
        self,
        repurchase_weight: float = 1.0,
        item_knn_weight: float = 0.25,
        als_weight: float = 0.25,
        trending_weight: float = 0.2,
        ease_weight: float = 0.0,
        new_item_knn_weight: float = 0.5,
        new_als_weight: float = 0.25,
        new_trending_weight: float = 0.6,
        new_ease_weight: float = 1.0,
        seen_in_all: bool = True,
        repurchase_trend_power: float = 0.5,
        knn_neighbours: int = 100,
        knn_bm25_k1: float = 1.2,
        knn_bm25_b: float = 0.75,
        als_factors: int = 64,
        als_regularization: float = 0.01,
        als_iterations: int = 15,
        ease_regularization: float = 300.0,
        ease_neighbours: int | None = 50,
        ease_max_items: int = 6_000,
        random_state: int | None = 0,
        num_threads: int = 1,
    ) -> None:
        self.repurchase_weight = repurchase_weight
        self.item_knn_weight = item_knn_weight
        self.als_weight = als_weight
        self.trending_weight = trending_weight
        self.ease_weight = ease_weight
        self.new_item_knn_weight = new_item_knn_weight
        self.new_als_weight = new_als_weight
        self.new_trending_weight = new_trending_weight
        self.new_ease_weight = new_ease_weight
        self.seen_in_all = seen_in_all
        self.repurchase_trend_power = repurchase_trend_power
        self.knn_neighbours = knn_neighbours
        self.knn_bm25_k1 = knn_bm25_k1
        self.knn_bm25_b = knn_bm25_b
        self.als_factors = als_factors
        self.als_regularization = als_regularization
        self.als_iterations = als_iterations
        self.ease_regularization = ease_regularization
        self.ease_neighbours = ease_neighbours
        self.ease_max_items = ease_max_items
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        used = (
            np.maximum(
                self.component_weights(exclude_seen=False),
                self.component_weights(exclude_seen=True),
            )
            > 0
        )
        self.trend_ = self.item_popularity_ if recent is None else recent
        self.item_knn_ = None
        if used[ITEM_KNN]:
            self.item_knn_ = ItemKNNRecommender(
                neighbours=self.knn_neighbours,
                similarity="bm25",
                bm25_k1=self.knn_bm25_k1,
                bm25_b=self.knn_bm25_b,
                num_threads=self.num_threads,
            ).fit(user_items)
        self.als_ = None
        if used[ALS]:
            self.als_ = ALSRecommender(
                factors=self.als_factors,
                regularization=self.als_regularization,
                iterations=self.als_iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            ).fit(user_items)
        self.ease_ = None
        if used[EASE]:
            if user_items.shape[1] > self.ease_max_items:
                warnings.warn(
                    f"EASE left out of the blend: {user_items.shape[1]} items is more than "
                    f"ease_max_items={self.ease_max_items}",
                    UserWarning, stacklevel=3,
                )  # fmt: skip
            else:
                self.ease_ = EASERecommender(
                    regularization=self.ease_regularization,
                    neighbours=self.ease_neighbours,
                    max_items=self.ease_max_items,
                    num_threads=self.num_threads,
                ).fit(user_items)
        top = self.trend_.max()
        self.trend_scaled_ = self.trend_ / top if top > 0 else np.zeros_like(self.trend_)
        self.repurchase_boost_ = (1.0 + self.trend_) ** float(self.repurchase_trend_power)

    def drops_seen(self, exclude_seen: bool) -> bool:
        """``exclude_seen``, or always when ``seen_in_all`` is False.

        Parameters
        ----------
        exclude_seen
            Whether the request asks for new items only.

        Returns
        -------
        bool
        """
        return bool(exclude_seen) or not self.seen_in_all

    def update_user(self, user_code: int, row: sp.csr_matrix) -> bool:
        """Refresh a known user's ALS factors from a new history row (in place).

        The other components read the history row on every call and need
        nothing. See :meth:`Recommender.update_user`.

        Parameters
        ----------
        user_code
            The user's row in the fitted matrix.
        row
            The user's new raw-count history, ``csr_matrix`` shape (1, n_items).

        Returns
        -------
        bool
            Whether anything kept per user changed.
        """
        rows = self.check_user_row(user_code, row)
        return self.als_ is not None and self.als_.update_user(user_code, rows)

    def update_users(self, user_codes: np.ndarray, rows: sp.csr_matrix) -> int:
        """Refresh several known users' ALS factors in one batch (in place); see :meth:`update_user`.

        Parameters
        ----------
        user_codes
            Rows of the users in the fitted matrix, shape (n,) int.
        rows
            Their new raw-count histories, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        int
            How many users changed.
        """
        codes, checked = self.check_user_rows(user_codes, rows)
        return 0 if self.als_ is None else self.als_.update_users(codes, checked)

    def _user_state(self, codes: np.ndarray) -> dict[str, Any]:
        # ALS is the only component that keeps anything per user.
        return {} if self.als_ is None else {"als": self.als_.user_state(codes)}

    def _set_user_state(self, state: dict[str, Any]) -> None:
        if self.als_ is not None:
            self.als_ = self.als_.for_users(state.get("als"))
