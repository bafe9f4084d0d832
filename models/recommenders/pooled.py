"""Bounded-cost top-k for the hybrid: the exact blend, over a candidate pool per user.

Exact top-k of :class:`~models.recommenders.hybrid.HybridRecommender` scores
every item for every user (ALS and trending are dense), so its cost per
customer grows with the catalogue. :class:`CandidatePool` blends the same
components, with the same weights, only on each user's candidates:

* the ``size`` items that sell most now (the trend) and the ``size`` most
  popular items of all time (one pool shared by every user);
* the user's own items (repurchase) and their item-kNN neighbours (the
  non-zero cells of the kNN scores), and the non-zero EASE cells when EASE
  is fitted (EASE is only fitted on catalogues of at most ``ease_max_items``).

What changes against the exact blend: ALS is divided by the user's largest
ALS score *among the candidates* (the exact blend divides by the largest over
the catalogue), and items outside the candidates are never proposed. The
repurchase, kNN, trending and EASE parts are scaled exactly as in the blend.
When the pool covers the catalogue (``size >= n_items``) every item is a
candidate and the answer is the exact one (same items, same scores).

Cost per customer: ``2 * size`` ALS dot products plus the user's kNN cells,
whatever the catalogue's size. The cell kernels (blending the candidate cells, each
user's top k) are in :mod:`models.recommenders.pool_cells`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.hybrid import HybridRecommender
from kizuna.models.recommenders.pool_cells import candidate_cells, top_cells
from kizuna.models.recommenders.ranking import (
    PAD_ITEM,
    check_codes,
    check_k,
    check_user_items,
)

# Users blended at a time: the block holds about users x (2 * size) cells.
_BLOCK_CELLS = 4_000_000


class CandidatePool(BaseEstimator):
    """Top-k of a fitted hybrid over each user's candidates (see the module docstring).

    Parameters
    ----------
    size
        Items taken from the trend and from all-time popularity each (the
        shared pool holds at most ``2 * size`` items).

    Attributes
    ----------
    items_
        The shared pool's item codes, ascending, shape (m,) int64.
    n_items_
        The fitted model's catalogue size.
    """

    def __init__(self, size: int = 1_000) -> None:
        self.size = size

    def fit(self, model: HybridRecommender) -> CandidatePool:
        """Take the shared pool from a fitted hybrid; return self.

        Parameters
        ----------
        model
            A fitted :class:`HybridRecommender`.

        Returns
        -------
        CandidatePool
            ``self``.
        """
        if not isinstance(model, HybridRecommender):
            raise KizunaInputError(
                f"a candidate pool blends the hybrid recommender, not {type(model).__name__}",
                column="model",
            )
        size = self.size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise KizunaInputError("must be a positive integer", column="size", values=[size])
        model.check_is_fitted()
        trending = np.argsort(-model.trend_, kind="stable")[: self.size]
        popular = model.tiebreak_order_[: self.size]
        self.items_ = np.unique(np.concatenate([trending, popular])).astype(np.int64)
        self.n_items_ = int(model.n_items_)
        return self

    def recommend(
        self,
        model: HybridRecommender,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        *,
        exclude_seen: bool = False,
        item_mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`Recommender.recommend` over the candidates; same arguments and outputs.

        ``model`` is the hybrid the pool was fitted on (or a copy of it for
        other users: :meth:`~models.recommenders.base.Recommender.for_users`).

        Parameters
        ----------
        model
            The hybrid the pool was fitted on, or a copy of it for other users.
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).
        k
            Number of items per user.
        exclude_seen
            Recommend only items not in the user's row.
        item_mask
            Boolean, shape (n_items,): True = allowed.

        Returns
        -------
        item_codes : numpy.ndarray
            Shape (n, k), int64; ``-1`` pads.
        scores : numpy.ndarray
            Shape (n, k), float64, descending; ``-inf`` pads.
        """
        if not hasattr(self, "items_"):
            raise NotFittedError("this CandidatePool is not fitted yet; call fit(model) first")
        if model.n_items_ != self.n_items_:
            raise KizunaInputError(
                f"the pool was fitted on {self.n_items_} items, the model has {model.n_items_}",
                column="model",
            )
        codes = check_codes(user_codes, "user_codes")
        rows = check_user_items(user_items, name="user_items")
        k = check_k(k)
        if rows.shape != (len(codes), model.n_items_):
            raise KizunaInputError(
                f"needs shape ({len(codes)}, {model.n_items_}), got {rows.shape}",
                column="user_items",
            )
        if item_mask is not None:
            item_mask = np.asarray(item_mask)
            if item_mask.dtype != bool or item_mask.shape != (model.n_items_,):
                raise KizunaInputError(
                    f"must be a boolean array of shape ({model.n_items_},)", column="item_mask"
                )
        out_items = np.full((len(codes), k), PAD_ITEM, dtype=np.int64)
        out_scores = np.full((len(codes), k), -np.inf)
        step = max(1, _BLOCK_CELLS // max(self.items_.size, 1))
        rank = np.empty(model.n_items_, dtype=np.int64)
        rank[model.tiebreak_order_] = np.arange(model.n_items_)
        # The pool's most popular items: each row's bound for the top-k sort.
        sample = self.items_[np.argsort(rank[self.items_])][: max(8 * k, 256)]
        for lo in range(0, len(codes), step):
            hi = min(lo + step, len(codes))
            r, c, v = self.blend_cells(model, codes[lo:hi], rows[lo:hi], exclude_seen)
            if item_mask is not None:
                v[~item_mask[c]] = -np.inf
            out_items[lo:hi], out_scores[lo:hi] = top_cells(
                r, c, v, hi - lo, k, rank, sample, model.n_items_
            )
        return out_items, out_scores

    def blend_cells(
        self, model: HybridRecommender, codes: np.ndarray, rows: sp.csr_matrix, exclude_seen: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, items and blended scores of every candidate cell, sorted by row then item.

        Seen items are ``-inf`` when ``model.drops_seen(exclude_seen)``. Shapes (cells,).

        Parameters
        ----------
        model
            The hybrid the pool was fitted on.
        codes
            User codes, shape (n,) int.
        rows
            The users' histories, ``csr_matrix`` shape (n, n_items).
        exclude_seen
            Whether the request asks for new items only.

        Returns
        -------
        rows, items, scores : numpy.ndarray
            Each shape (n_cells,).
        """
        return candidate_cells(model, self.items_, codes, rows, exclude_seen)


def pool_for(model: Any, size: int | None) -> CandidatePool | None:
    """A pool of ``size`` fitted on ``model``; None without a size, or for a recommender that
    is not the hybrid (the two-stage model, a baseline), which then ranks exactly: the
    served kind is chosen at training, after the experiment file set the pool.

    Parameters
    ----------
    model
        A fitted recommender.
    size
        Candidates per user, or None for no pool.

    Returns
    -------
    CandidatePool or None
    """
    if size is None or not isinstance(model, HybridRecommender):
        return None
    return CandidatePool(size).fit(model)


def pooled_recommend(
    model: Any,
    pool: CandidatePool | None,
    user_codes: np.ndarray,
    user_items: sp.csr_matrix,
    k: int,
    *,
    exclude_seen: bool,
    item_mask: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``model.recommend`` (exact) without a pool, else ``pool.recommend(model, ...)``.

    The one call the batch export makes on both engines.

    Parameters
    ----------
    model
        A fitted recommender.
    pool
        Its candidate pool (from :func:`pool_for`), or None.
    user_codes
        Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
    user_items
        The users' histories, ``csr_matrix`` shape (n, n_items).
    k
        Number of items per user.
    exclude_seen
        Recommend only items not in the user's row.
    item_mask
        Boolean, shape (n_items,): True = allowed; or None.

    Returns
    -------
    item_codes : numpy.ndarray
        Shape (n, k), int64; ``-1`` pads.
    scores : numpy.ndarray
        Shape (n, k), float64, descending; ``-inf`` pads.
    """
    if pool is None:
        return model.recommend(
            user_codes, user_items, k, exclude_seen=exclude_seen, item_mask=item_mask
        )
    return pool.recommend(
        model, user_codes, user_items, k, exclude_seen=exclude_seen, item_mask=item_mask
    )
