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

from kizuna.features.errors import KizunaInputError
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
from kizuna.models.recommenders.implicit_models import ALSRecommender, ItemKNNRecommender
from kizuna.models.recommenders.ranking import per_user_max_scale

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


class HybridRecommender(HybridReasons, Recommender):
    """Repurchase + item-kNN + ALS + trending + EASE, blended with per-user scaling.

    Parameters
    ----------
    repurchase_weight, item_knn_weight, als_weight, trending_weight, ease_weight
        Blend weights (non-negative, not all zero) for recommending any item.
    new_item_knn_weight, new_als_weight, new_trending_weight, new_ease_weight
        Blend weights (non-negative) when only new items are asked for
        (``exclude_seen=True``), and for :meth:`similar_items`.
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
        used = np.maximum(self._weights(exclude_seen=False), self._weights(exclude_seen=True)) > 0
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

    # --- scoring ----------------------------------------------------------------------

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self._blend(user_codes, user_items, exclude_seen=False)

    def _score_for(
        self, user_codes: np.ndarray, user_items: sp.csr_matrix, exclude_seen: bool
    ) -> np.ndarray:
        return self._blend(user_codes, user_items, exclude_seen=exclude_seen)

    def _blend(
        self, user_codes: np.ndarray, user_items: sp.csr_matrix, *, exclude_seen: bool
    ) -> np.ndarray:
        """``component_scores(...).sum(axis=0)``, shape (n, n_items) float64, made in place.

        The same sums in the same order (component by component, as the
        sum over the first axis adds them), without the (components, n,
        n_items) array: the sparse components (repurchase, item-kNN) are
        added on their non-zero cells only, since adding their zeros changes
        nothing.
        """
        self.check_is_fitted()
        w = self._weights(exclude_seen=exclude_seen)
        total = np.zeros(user_items.shape)
        if w[REPURCHASE] > 0:
            own = sp.csr_matrix(user_items.multiply(self.repurchase_boost_[None, :]))
            _add_scaled(total, own, w[REPURCHASE])
        if w[ITEM_KNN] > 0 and self.item_knn_ is not None:
            _add_scaled(total, self.item_knn_.sparse_scores(user_items), w[ITEM_KNN])
        if w[ALS] > 0 and self.als_ is not None:
            part = per_user_max_scale(self.als_._score(user_codes, user_items))
            total += w[ALS] * part.astype(np.float64, copy=False)
        if w[TRENDING] > 0:
            total += w[TRENDING] * self.trend_scaled_.astype(np.float64)[None, :]
        if w[EASE] > 0 and self.ease_ is not None:
            part = per_user_max_scale(self.ease_._score(user_codes, user_items))
            total += w[EASE] * part.astype(np.float64, copy=False)
        return total

    def component_scores(
        self, user_codes: np.ndarray, user_items: sp.csr_matrix, *, exclude_seen: bool = False
    ) -> np.ndarray:
        """Weighted contribution of each component, shape (len(COMPONENTS), n, n_items).

        Their sum over the first axis is the hybrid score (of the blend for
        new items only when ``exclude_seen``; seen items are not masked
        here). Unvalidated and dense: for diagnostics and weight tuning on
        small batches.
        """
        self.check_is_fitted()
        w = self._weights(exclude_seen=exclude_seen)
        return w[:, None, None] * self.unit_component_scores(user_codes, user_items, w > 0)

    def unit_component_scores(
        self,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        which: np.ndarray | None = None,
        *,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Each component scaled to [0, 1] before weighting, shape (len(COMPONENTS), n, n_items).

        Components not fitted, or not selected by the boolean ``which``
        (shape (len(COMPONENTS),)), are zero. For weight tuning: any blend is
        a weighted sum of these. ``out``: a zero-filled array of that shape
        to write into, of any float type (the values are made in float64 and
        cast once).
        """
        self.check_is_fitted()
        n, n_items = user_items.shape
        which = np.ones(len(COMPONENTS), dtype=bool) if which is None else np.asarray(which)
        out = np.zeros((len(COMPONENTS), n, n_items)) if out is None else out
        if which[REPURCHASE]:
            own = sp.csr_matrix(user_items.multiply(self.repurchase_boost_[None, :]))
            r, c, v = _scaled_cells(own)
            out[REPURCHASE, r, c] = v
        if which[ITEM_KNN] and self.item_knn_ is not None:
            r, c, v = _scaled_cells(self.item_knn_.sparse_scores(user_items))
            out[ITEM_KNN, r, c] = v
        if which[ALS] and self.als_ is not None:
            out[ALS] = per_user_max_scale(self.als_._score(user_codes, user_items))
        if which[TRENDING]:
            out[TRENDING] = self.trend_scaled_[None, :]
        if which[EASE] and self.ease_ is not None:
            out[EASE] = per_user_max_scale(self.ease_._score(user_codes, user_items))
        return out

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        # "Also bought" is about other items: the new-items blend.
        w = self._weights(exclude_seen=True)
        out = np.zeros((len(item_codes), self.trend_.size))
        for which, model in ((ITEM_KNN, self.item_knn_), (ALS, self.als_), (EASE, self.ease_)):
            if model is not None and w[which] > 0:
                out += w[which] * per_user_max_scale(model._similar(item_codes))
        # Popularity only orders what co-purchases leave tied (the base tie-break).
        return out

    def update_user(self, user_code: int, row: sp.csr_matrix) -> bool:
        """Refresh a known user's ALS factors from a new history row (in place).

        The other components read the history row on every call and need
        nothing. See :meth:`Recommender.update_user`.
        """
        rows = self.check_user_row(user_code, row)
        return self.als_ is not None and self.als_.update_user(user_code, rows)

    def update_users(self, user_codes: np.ndarray, rows: sp.csr_matrix) -> int:
        """Refresh several known users' ALS factors in one batch (in place); see :meth:`update_user`."""
        codes, checked = self.check_user_rows(user_codes, rows)
        return 0 if self.als_ is None else self.als_.update_users(codes, checked)

    def _user_state(self, codes: np.ndarray) -> dict[str, Any]:
        # ALS is the only component that keeps anything per user.
        return {} if self.als_ is None else {"als": self.als_.user_state(codes)}

    def _set_user_state(self, state: dict[str, Any]) -> None:
        if self.als_ is not None:
            self.als_ = self.als_.for_users(state.get("als"))

    def _weights(self, *, exclude_seen: bool = False) -> np.ndarray:
        """Blend weights in :data:`COMPONENTS` order, shape (len(COMPONENTS),)."""
        base = np.array(
            [self.repurchase_weight, self.item_knn_weight, self.als_weight,
             self.trending_weight, self.ease_weight],
            dtype=np.float64,
        )  # fmt: skip
        new = np.array(
            [self.repurchase_weight, self.new_item_knn_weight, self.new_als_weight,
             self.new_trending_weight, self.new_ease_weight],
            dtype=np.float64,
        )  # fmt: skip
        for name, w in (("weights", base), ("new-item weights", new)):
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise KizunaInputError(f"{name} must be finite and non-negative",
                                       column="weights", values=w)  # fmt: skip
        if not np.any(base > 0):
            raise KizunaInputError("blend weights must not all be zero", column="weights",
                                   values=base)  # fmt: skip
        return new if exclude_seen else base


def _add_scaled(total: np.ndarray, part: sp.csr_matrix, weight: float) -> None:
    """``total += weight * per_user_max_scale(part.toarray())`` on ``part``'s stored cells only.

    Cells ``part`` does not store are 0 in the dense scaling too and add nothing.
    """
    r, c, v = _scaled_cells(part)
    total[r, c] += weight * v


def _scaled_cells(part: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and values (float64) of ``per_user_max_scale(part.toarray())``'s non-zeros.

    The same clip at 0, row maximum and division as the dense scaling, on
    the stored cells alone (the others are 0 there too).
    """
    part = sp.csr_matrix(part, dtype=np.float64)
    part.sum_duplicates()
    values = np.maximum(part.data, 0.0)
    rows = np.repeat(np.arange(part.shape[0]), np.diff(part.indptr))
    top = np.zeros(part.shape[0])
    np.maximum.at(top, rows, values)
    keep = top[rows] > 0
    r = rows[keep]
    return r, part.indices[keep], values[keep] / top[r]
