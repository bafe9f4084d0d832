"""Why the hybrid recommended each item: the component that contributed most.

:class:`HybridReasons` is part of
:class:`~models.recommenders.hybrid.HybridRecommender`: ``recommend_with_reasons``
and the anchor item of "similar to X" / "often bought together with X" picks.
The component ids and their customer-facing wording live here too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from kizuna.models.recommenders.ease import binarize
from kizuna.models.recommenders.ranking import PAD_ITEM, blocks, top_k

#: Component ids in :class:`Explained` ``component``, in this order (new ones are appended).
COMPONENTS: tuple[str, ...] = ("repurchase", "item_knn", "als", "trending", "ease")
REPURCHASE, ITEM_KNN, ALS, TRENDING, EASE = range(len(COMPONENTS))
#: Customer-facing reason of each component; ``{item}`` is the anchor item
#: (:attr:`Explained.anchor_item`) of ``item_knn`` and ``ease`` picks.
REASONS: dict[str, str] = {
    "repurchase": "bought before",
    "item_knn": "similar to {item}",
    "als": "popular with customers like you",
    "trending": "trending now",
    "ease": "often bought together with {item}",
}
#: Components whose picks come with an anchor item from the user's history.
ANCHORED: tuple[int, ...] = (ITEM_KNN, EASE)


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
        Shape (n, k) int64: for ``item_knn`` and ``ease`` reasons, the item in
        the user's history that contributed most ("similar to X", "often
        bought together with X"); ``-1`` otherwise.
    """

    item_codes: np.ndarray
    scores: np.ndarray
    component: np.ndarray
    anchor_item: np.ndarray


class HybridReasons:
    """``recommend_with_reasons`` and ``anchor_items`` (a part of ``HybridRecommender``).

    Needs the fitted ``n_items_``, ``tiebreak_order_``, ``item_knn_`` and
    ``ease_``, and ``component_scores`` / ``_check_request`` / ``_masked_scores``.
    """

    n_items_: int
    tiebreak_order_: np.ndarray
    item_knn_: Any
    ease_: Any
    component_scores: Any
    _check_request: Any
    _masked_scores: Any

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
        :meth:`recommend`. See :class:`Explained`; :data:`REASONS` words each
        component for customers.

        Parameters
        ----------
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
        Explained
            ``item_codes`` and ``scores`` as :meth:`recommend` gives them, with the
            reason of each pick (see :class:`Explained`).
        """
        codes, rows, k, mask = self._check_request(user_codes, user_items, k, item_mask)
        n = len(codes)
        items = np.full((n, k), PAD_ITEM, dtype=np.int64)
        scores = np.full((n, k), -np.inf)
        component = np.full((n, k), -1, dtype=np.int8)
        anchor = np.full((n, k), PAD_ITEM, dtype=np.int64)
        for lo, hi in blocks(n, self.n_items_):
            parts = self.component_scores(codes[lo:hi], rows[lo:hi], exclude_seen=exclude_seen)
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
            anchor[lo:hi] = self.anchor_items(rows[lo:hi], b_items, b_component)
        return Explained(items, scores, component, anchor)

    def anchor_items(
        self, rows: sp.csr_matrix, items: np.ndarray, component: np.ndarray
    ) -> np.ndarray:
        """The history item j contributing most to each item-kNN / EASE pick.

        item-kNN: argmax over the user's items j of count(j) x sim(j, item);
        EASE: argmax of B(j, item) over the items j bought (EASE reads which
        items were bought, not how often).

        Parameters
        ----------
        rows
            The users' histories, ``csr_matrix`` shape (n, n_items).
        items
            The recommended items, shape (n, k) int (``-1`` pads).
        component
            The component that ranks each pick highest, shape (n, k).

        Returns
        -------
        numpy.ndarray
            Shape (n, k), int64: the history item behind each pick; -1 where none.
        """
        out = np.full(items.shape, PAD_ITEM, dtype=np.int64)
        for which, model in ((ITEM_KNN, self.item_knn_), (EASE, self.ease_)):
            if model is None:
                continue
            r, c = np.nonzero(component == which)
            if r.size == 0:
                continue
            history = rows[r] if which == ITEM_KNN else binarize(rows[r])
            # Row p of `pairs` = the user's history weights times the link of
            # each history item j to the recommended item.
            to_target = self._links_to(which)[items[r, c]]
            pairs = sp.csr_matrix(to_target.multiply(history)).tocsr()
            pairs.data[pairs.data <= 0] = 0.0
            pairs.eliminate_zeros()
            has = np.diff(pairs.indptr) > 0
            best = np.asarray(pairs.argmax(axis=1)).ravel()
            out[r[has], c[has]] = best[has]
        return out

    def _links_to(self, which: int) -> sp.csr_matrix:
        """link(j, i) of an item-item component, indexed by the target item i.

        The transpose of the kNN similarity / EASE weights, built once per
        fitted component rather than on every request.
        """
        model = self.item_knn_ if which == ITEM_KNN else self.ease_
        cache = getattr(self, "_links_to_cache", None) or {}
        hit = cache.get(which)
        if hit is None or hit[0] is not model:
            links = model.similarity_ if which == ITEM_KNN else model.weights_
            hit = (model, links.T.tocsr())
            self._links_to_cache = {**cache, which: hit}
        return hit[1]
