"""The served recommender: repurchase and collaborative signals blended per user.

Score of item ``i`` for user ``u`` (every component scaled to [0, 1]):

    repurchase_weight * R(u, i) + item_knn_weight * K(u, i)
        + als_weight * A(u, i) + trending_weight * T(i)

* ``R`` ("bought before"): the user's purchase count of the item times
  ``(1 + recent sales of the item) ** repurchase_trend_power``, divided by the
  user's largest such value. Among items a customer buys equally often, the
  ones selling now are the ones bought again. ``R`` is zero for items the user
  never bought, so with ``exclude_seen=True`` (recommend new items only) it
  vanishes and the collaborative part decides.
* ``K`` ("similar to X"): BM25 item-kNN score, divided by the user's maximum.
* ``A`` ("customers like you"): ALS score, clipped at 0, divided by the
  user's maximum.
* ``T`` ("popular now"): sales in ``recent_items`` given to ``fit`` (all-time
  sales without it), divided by the top item's.

Per-user max scaling makes the weights comparable across users with short and
long histories. A zero weight skips fitting that component.

Default weights were tuned on Online Retail with three splits *earlier* than
the test holdout (as_of 2011-04-13, 2011-05-13 and 2011-06-12, 90-day truth
windows, trending = the last 7 days of sales), maximising the mean over splits
and modes (``all``, ``new``) of NDCG@10 relative to the best single model
(``benchmarks/bench_recommenders.py tune``): validation gains were +5.5% to
+7.6% (``all``) and +9.8% to +18.8% (``new``). On the 2011-09-10 test holdout
the gains shrink to +2.5% and +2.1%: the pre-Christmas test season rewards the
trending term less than the spring and summer validation seasons did.
Per-customer recency decay of the repurchase signal (half-lives of 30 to 365
days) lowered validation NDCG@10 and is not part of the model; the trending
multiplier carries the "now" signal instead.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from features.errors import KizunaInputError
from models.recommenders.base import (
    PAD_ITEM,
    Recommender,
    _blocks,
    per_user_max_scale,
    top_k,
)
from models.recommenders.implicit_models import ALSRecommender, ItemKNNRecommender

#: Component ids in :class:`Explained` ``component``, in this order.
COMPONENTS: tuple[str, ...] = ("repurchase", "item_knn", "als", "trending")
REPURCHASE, ITEM_KNN, ALS, TRENDING = range(len(COMPONENTS))


class Explained(NamedTuple):
    """Recommendations with the component that contributed most to each one.

    Attributes
    ----------
    item_codes
        Shape (n, k) int64, ``-1`` pads.
    scores
        Shape (n, k) float64, ``-inf`` pads.
    component
        Shape (n, k) int8: index into :data:`COMPONENTS` of the largest
        weighted contribution; ``-1`` for padding. An item whose score is 0
        (ranked by the popularity tie-break alone) counts as ``trending``.
    anchor_item
        Shape (n, k) int64: for ``item_knn`` reasons, the item in the user's
        history that contributed most ("similar to X"); ``-1`` otherwise.
    """

    item_codes: np.ndarray
    scores: np.ndarray
    component: np.ndarray
    anchor_item: np.ndarray


class HybridRecommender(Recommender):
    """Repurchase + item-kNN + ALS + trending, blended with per-user scaling.

    Parameters
    ----------
    repurchase_weight, item_knn_weight, als_weight, trending_weight
        Blend weights (non-negative). Defaults tuned on a validation split,
        see the module docstring.
    repurchase_trend_power
        Exponent of ``(1 + recent sales)`` multiplying the user's own counts.
    knn_neighbours, knn_bm25_k1, knn_bm25_b
        :class:`ItemKNNRecommender` parameters (BM25 similarity).
    als_factors, als_regularization, als_iterations
        :class:`ALSRecommender` parameters (BM25 weights).
    random_state, num_threads
        Passed to ALS.

    Attributes
    ----------
    item_knn_, als_
        The fitted components (``None`` when their weight is 0).
    trend_
        Recent sales per item, shape (n_items,).
    trend_scaled_, repurchase_boost_
        ``T`` and the repurchase multiplier per item, shape (n_items,).
    """

    def __init__(
        self,
        repurchase_weight: float = 1.0,
        item_knn_weight: float = 0.5,
        als_weight: float = 0.25,
        trending_weight: float = 0.4,
        repurchase_trend_power: float = 0.5,
        knn_neighbours: int = 100,
        knn_bm25_k1: float = 1.2,
        knn_bm25_b: float = 0.75,
        als_factors: int = 64,
        als_regularization: float = 0.01,
        als_iterations: int = 15,
        random_state: int | None = 0,
        num_threads: int = 1,
    ) -> None:
        self.repurchase_weight = repurchase_weight
        self.item_knn_weight = item_knn_weight
        self.als_weight = als_weight
        self.trending_weight = trending_weight
        self.repurchase_trend_power = repurchase_trend_power
        self.knn_neighbours = knn_neighbours
        self.knn_bm25_k1 = knn_bm25_k1
        self.knn_bm25_b = knn_bm25_b
        self.als_factors = als_factors
        self.als_regularization = als_regularization
        self.als_iterations = als_iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        weights = self._weights()
        self.trend_ = self.item_popularity_ if recent is None else recent
        self.item_knn_ = None
        if weights[ITEM_KNN] > 0:
            self.item_knn_ = ItemKNNRecommender(
                neighbours=self.knn_neighbours,
                similarity="bm25",
                bm25_k1=self.knn_bm25_k1,
                bm25_b=self.knn_bm25_b,
                num_threads=self.num_threads,
            ).fit(user_items)
        self.als_ = None
        if weights[ALS] > 0:
            self.als_ = ALSRecommender(
                factors=self.als_factors,
                regularization=self.als_regularization,
                iterations=self.als_iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            ).fit(user_items)
        top = self.trend_.max()
        self.trend_scaled_ = self.trend_ / top if top > 0 else np.zeros_like(self.trend_)
        self.repurchase_boost_ = (1.0 + self.trend_) ** float(self.repurchase_trend_power)

    # --- scoring ----------------------------------------------------------------------

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self.component_scores(user_codes, user_items).sum(axis=0)

    def component_scores(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Weighted contribution of each component, shape (len(COMPONENTS), n, n_items).

        Their sum over the first axis is the hybrid score. Unvalidated and
        dense: for diagnostics and weight tuning on small batches.
        """
        self.check_is_fitted()
        n, n_items = user_items.shape
        w = self._weights()
        out = np.zeros((len(COMPONENTS), n, n_items))
        if w[REPURCHASE] > 0:
            own = user_items.multiply(self.repurchase_boost_[None, :]).toarray()
            out[REPURCHASE] = w[REPURCHASE] * per_user_max_scale(own)
        if self.item_knn_ is not None:
            out[ITEM_KNN] = w[ITEM_KNN] * per_user_max_scale(
                self.item_knn_._score(user_codes, user_items)
            )
        if self.als_ is not None:
            out[ALS] = w[ALS] * per_user_max_scale(self.als_._score(user_codes, user_items))
        if w[TRENDING] > 0:
            out[TRENDING] = w[TRENDING] * self.trend_scaled_[None, :]
        return out

    def recommend_with_reasons(
        self,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        *,
        exclude_seen: bool = False,
        item_mask: np.ndarray | None = None,
    ) -> Explained:
        """:meth:`recommend`, plus which component put each item there.

        Same parameters and the same ``item_codes`` / ``scores`` as
        :meth:`recommend`. See :class:`Explained`.
        """
        codes, rows, k, mask = self._check_request(user_codes, user_items, k, item_mask)
        n = len(codes)
        items = np.full((n, k), PAD_ITEM, dtype=np.int64)
        scores = np.full((n, k), -np.inf)
        component = np.full((n, k), -1, dtype=np.int8)
        anchor = np.full((n, k), PAD_ITEM, dtype=np.int64)
        for lo, hi in _blocks(n, self.n_items_):
            parts = self.component_scores(codes[lo:hi], rows[lo:hi])
            total = parts.sum(axis=0)
            blocked = self._masked_scores(codes[lo:hi], rows[lo:hi], exclude_seen, mask, total)
            b_items, b_scores = top_k(blocked, k, self.tiebreak_order_)
            valid = b_items >= 0
            r, c = np.nonzero(valid)
            best = parts[:, r, b_items[r, c]].argmax(axis=0)
            best[b_scores[r, c] <= 0] = TRENDING
            b_component = np.full(b_items.shape, -1, dtype=np.int8)
            b_component[r, c] = best
            items[lo:hi], scores[lo:hi], component[lo:hi] = b_items, b_scores, b_component
            anchor[lo:hi] = self._anchors(rows[lo:hi], b_items, b_component)
        return Explained(items, scores, component, anchor)

    def _anchors(
        self, rows: sp.csr_matrix, items: np.ndarray, component: np.ndarray
    ) -> np.ndarray:
        """For item-kNN picks: argmax over the user's items j of count(j) x sim(j, item)."""
        out = np.full(items.shape, PAD_ITEM, dtype=np.int64)
        if self.item_knn_ is None:
            return out
        r, c = np.nonzero(component == ITEM_KNN)
        if r.size == 0:
            return out
        # Row p of `pairs` = the user's counts times the similarity of each
        # history item j to the recommended item.
        to_target = self._similarity_to()[items[r, c]]
        pairs = sp.csr_matrix(to_target.multiply(rows[r])).tocsr()
        pairs.eliminate_zeros()
        has = np.diff(pairs.indptr) > 0
        best = np.asarray(pairs.argmax(axis=1)).ravel()
        out[r[has], c[has]] = best[has]
        return out

    def _similarity_to(self) -> sp.csr_matrix:
        """sim(j, i) indexed by the target item i (the transpose, built once, not per request)."""
        cached = getattr(self, "_similarity_to_cache", None)
        if cached is None or cached[0] is not self.item_knn_:
            cached = (self.item_knn_, self.item_knn_.similarity_.T.tocsr())
            self._similarity_to_cache = cached
        return cached[1]

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        w = self._weights()
        out = np.zeros((len(item_codes), self.trend_.size))
        if self.item_knn_ is not None:
            out += w[ITEM_KNN] * per_user_max_scale(self.item_knn_._similar(item_codes))
        if self.als_ is not None:
            out += w[ALS] * per_user_max_scale(self.als_._similar(item_codes))
        # Popularity only orders what co-purchases leave tied (the base tie-break).
        return out

    def update_user(self, user_code: int, row: sp.csr_matrix) -> None:
        """Refresh a known user's ALS factors from a new history row (in place).

        The other components read the history row on every call and need
        nothing. See :meth:`ALSRecommender.update_user`.
        """
        self.check_is_fitted()
        if self.als_ is not None:
            self.als_.update_user(user_code, row)

    def _weights(self) -> np.ndarray:
        w = np.array(
            [self.repurchase_weight, self.item_knn_weight, self.als_weight, self.trending_weight],
            dtype=np.float64,
        )
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
            raise KizunaInputError(
                "blend weights must be finite, non-negative and not all zero",
                column="weights", values=w,
            )  # fmt: skip
        return w
