"""The hybrid's scores: each component scaled to [0, 1] per user, and their weighted blend.

:class:`HybridScoring` is part of
:class:`~models.recommenders.hybrid.HybridRecommender` (see its module
docstring for the formula); :func:`scaled_cells` is the per-user max scaling
of a sparse component on its stored cells, shared with
:mod:`models.recommenders.pooled`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.hybrid_reasons import (
    ALS,
    COMPONENTS,
    EASE,
    ITEM_KNN,
    REPURCHASE,
    TRENDING,
)
from kizuna.models.recommenders.ranking import per_user_max_scale


class HybridScoring:
    """Blend and component scores of a fitted hybrid (mixed into ``HybridRecommender``)."""

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
        w = self.component_weights(exclude_seen=exclude_seen)
        total = np.zeros(user_items.shape)
        if w[REPURCHASE] > 0:
            own = sp.csr_matrix(user_items.multiply(self.repurchase_boost_[None, :]))
            add_scaled(total, own, w[REPURCHASE])
        if w[ITEM_KNN] > 0 and self.item_knn_ is not None:
            add_scaled(total, self.item_knn_.sparse_scores(user_items), w[ITEM_KNN])
        if w[ALS] > 0 and self.als_ is not None:
            part = per_user_max_scale(self.als_.raw_scores(user_codes, user_items))
            total += w[ALS] * part.astype(np.float64, copy=False)
        if w[TRENDING] > 0:
            total += w[TRENDING] * self.trend_scaled_.astype(np.float64)[None, :]
        if w[EASE] > 0 and self.ease_ is not None:
            part = per_user_max_scale(self.ease_.raw_scores(user_codes, user_items))
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

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).
        exclude_seen
            Use the weights of the blend for new items only.

        Returns
        -------
        numpy.ndarray
            Shape (len(COMPONENTS), n, n_items).
        """
        self.check_is_fitted()
        w = self.component_weights(exclude_seen=exclude_seen)
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

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).
        which
            Boolean, shape (len(COMPONENTS),): the components to compute; None for all.
        out
            Zero-filled array of shape (len(COMPONENTS), n, n_items) to write into, or None.

        Returns
        -------
        numpy.ndarray
            Shape (len(COMPONENTS), n, n_items) (``out`` when given).
        """
        self.check_is_fitted()
        n, n_items = user_items.shape
        which = np.ones(len(COMPONENTS), dtype=bool) if which is None else np.asarray(which)
        out = np.zeros((len(COMPONENTS), n, n_items)) if out is None else out
        if which[REPURCHASE]:
            own = sp.csr_matrix(user_items.multiply(self.repurchase_boost_[None, :]))
            r, c, v = scaled_cells(own)
            out[REPURCHASE, r, c] = v
        if which[ITEM_KNN] and self.item_knn_ is not None:
            r, c, v = scaled_cells(self.item_knn_.sparse_scores(user_items))
            out[ITEM_KNN, r, c] = v
        if which[ALS] and self.als_ is not None:
            out[ALS] = per_user_max_scale(self.als_.raw_scores(user_codes, user_items))
        if which[TRENDING]:
            out[TRENDING] = self.trend_scaled_[None, :]
        if which[EASE] and self.ease_ is not None:
            out[EASE] = per_user_max_scale(self.ease_.raw_scores(user_codes, user_items))
        return out

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        return self.item_similarity(item_codes)

    def item_similarity(self, item_codes: np.ndarray) -> np.ndarray:
        """Co-purchase scores of every item for each item, shape (n, n_items) float64.

        The new-items blend of the kNN, ALS and EASE similarities (each scaled
        to [0, 1] per row), as :meth:`similar_items` ranks them; unmasked,
        codes not checked again.

        Parameters
        ----------
        item_codes
            Column of each query item, shape (n,) int.

        Returns
        -------
        numpy.ndarray
            Shape (n, n_items), float64.
        """
        # "Also bought" is about other items: the new-items blend.
        w = self.component_weights(exclude_seen=True)
        out = np.zeros((len(item_codes), self.trend_.size))
        for which, model in ((ITEM_KNN, self.item_knn_), (ALS, self.als_), (EASE, self.ease_)):
            if model is not None and w[which] > 0:
                out += w[which] * per_user_max_scale(model._similar(item_codes))
        # Popularity only orders what co-purchases leave tied (the base tie-break).
        return out

    def component_weights(self, *, exclude_seen: bool = False) -> np.ndarray:
        """Blend weights in :data:`COMPONENTS` order, shape (len(COMPONENTS),).

        ``exclude_seen``: the ``new_*`` weights (the blend for new items only).

        Parameters
        ----------
        exclude_seen
            Whether to give the weights of the blend for new items only.

        Returns
        -------
        numpy.ndarray
            Shape (len(COMPONENTS),).
        """
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


def add_scaled(total: np.ndarray, part: sp.csr_matrix, weight: float) -> None:
    """``total += weight * per_user_max_scale(part.toarray())`` on ``part``'s stored cells only.

    Cells ``part`` does not store are 0 in the dense scaling too and add nothing.

    Parameters
    ----------
    total
        Dense scores, shape (n, n_items) float64, updated in place.
    part
        One component's scores, ``csr_matrix`` shape (n, n_items).
    weight
        The component's blend weight.
    """
    r, c, v = scaled_cells(part)
    total[r, c] += weight * v


def scaled_cells(part: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and values (float64) of ``per_user_max_scale(part.toarray())``'s non-zeros.

    The same clip at 0, row maximum and division as the dense scaling, on
    the stored cells alone (the others are 0 there too).

    Parameters
    ----------
    part
        One component's scores, ``csr_matrix`` shape (n, n_items).

    Returns
    -------
    rows, cols, values : numpy.ndarray
        Each shape (n_cells,).
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
