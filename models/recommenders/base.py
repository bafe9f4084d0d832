"""The one contract every recommender follows, and the top-k machinery they share.

Recommenders work on integer codes: row ``u`` of a user x item matrix is user
code ``u``, column ``i`` is item code ``i`` (``features.interactions`` maps
string ids to codes). A subclass implements two scoring hooks and inherits
validation, masking, top-k selection and padding:

* ``_fit(user_items, recent_items, item_categories)`` learns attributes ending
  in ``_`` (``__init__`` only stores parameters, as in scikit-learn);
* ``_score(user_codes, user_items)`` returns dense scores, shape
  (n, n_items); ``-inf`` means "never recommend this item to this user";
* ``_similar(item_codes)`` returns dense item-to-item scores, shape
  (n, n_items);
* optionally ``_score_for(user_codes, user_items, exclude_seen)``, for a
  model that scores differently when only new items are wanted (default:
  ``_score``).

The request checks and masking are inherited from
:class:`~models.recommenders.request_checks.RequestChecks`, the per-user state from
:class:`~models.recommenders.user_updates.UserUpdates`.

Output conventions (all models):

* ``recommend`` and ``similar_items`` always return ``k`` columns, best first.
  When fewer than ``k`` items are allowed (``k`` larger than the catalogue,
  seen items excluded, a narrow ``item_mask``, or a model that only knows the
  user's own items), the tail is padded with item code ``-1`` and score
  ``-inf``. Metrics in ``training.metrics`` ignore ``-1``.
* A user with an empty row is valid: models fall back to what they know
  without a history (popularity, for most). A user code outside
  ``[0, n_users_)`` (e.g. ``-1`` for a customer unseen at fit time) is valid
  too; the history in ``user_items`` is then all the model uses.
* Ties are broken by all-time popularity in the fitted matrix (column sums),
  then by the lower item code, so results are deterministic and a user the
  model knows nothing about (all scores equal, e.g. an empty row for a
  factor model) gets the most popular items.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.fit_cache import active_cache, digest
from kizuna.models.recommenders.ranking import (
    PAD_ITEM,
    blocks,
    check_codes,
    check_k,
    check_user_items,
    item_vector,
    top_k,
)
from kizuna.models.recommenders.request_checks import RequestChecks
from kizuna.models.recommenders.user_updates import UserUpdates


class Recommender(UserUpdates, RequestChecks, BaseEstimator):
    """Base class: ``fit`` / ``recommend`` / ``similar_items`` on integer codes.

    Class attributes
    ----------------
    only_seen_items
        True for models that can only recommend items the user already bought
        ("buy again"); evaluation skips them in the ``new`` mode.
    """

    only_seen_items: ClassVar[bool] = False
    #: What ``_fit`` reads: the key of a fit shared within :func:`shared_fits`
    #: (``None``: a model whose fit reads more, or keeps state across fits, is never shared).
    fit_inputs: ClassVar[tuple[str, ...] | None] = (
        "user_items", "recent_items", "item_categories",
    )  # fmt: skip

    # --- public API ---------------------------------------------------------------

    def fit(
        self,
        user_items: sp.csr_matrix,
        *,
        recent_items: sp.spmatrix | np.ndarray | None = None,
        item_categories: np.ndarray | None = None,
    ) -> Recommender:
        """Learn from a user x item matrix of non-negative purchase strengths.

        Parameters
        ----------
        user_items
            ``csr_matrix``, shape (n_users, n_items): e.g. distinct orders per
            (user, item) from ``features.interactions.build_interactions``.
        recent_items
            What sells *now*: a sparse matrix with ``n_items`` columns (e.g.
            the same counts restricted to the last few weeks, or a
            time-decayed matrix), or a per-item vector, shape (n_items,).
            Models with a trending component use its column sums; the others
            ignore it. Without it, trending falls back to all-time popularity.
        item_categories
            Category label of each item, shape (n_items,), for cold start;
            ignored by models that do not use categories.

        Returns
        -------
        self
        """
        X = check_user_items(user_items, name="user_items")
        if not (X.data > 0).any():
            raise KizunaInputError(
                f"the matrix (shape {X.shape}) has no purchases to learn from", column="user_items"
            )
        recent = None if recent_items is None else item_vector(recent_items, X.shape[1])
        categories = None
        if item_categories is not None:
            categories = np.asarray(item_categories)
            if categories.shape != (X.shape[1],):
                raise KizunaInputError(
                    f"needs one category per item, shape ({X.shape[1]},), got {categories.shape}",
                    column="item_categories",
                )

        def fit() -> dict[str, Any]:
            # Set before _fit, which may use them; n_items_ (the fitted flag) last.
            self.item_popularity_ = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
            self.tiebreak_order_ = np.argsort(-self.item_popularity_, kind="stable")
            self._fit(X, recent, categories)
            self.n_users_, self.n_items_ = X.shape
            return {k: v for k, v in vars(self).items() if k.endswith("_") and k[0] != "_"}

        cache = active_cache()
        if cache is None or self.fit_inputs is None:
            fit()
        else:
            inputs = {"user_items": X, "recent_items": recent, "item_categories": categories}
            key = (
                type(self).__module__,
                type(self).__qualname__,
                repr(sorted(self.get_params(deep=False).items())),
                *(digest(inputs[name]) for name in self.fit_inputs),
            )
            vars(self).update(cache.learned(key, fit))
        return self

    def recommend(
        self,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        *,
        exclude_seen: bool = False,
        item_mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items for a batch of users, in one call.

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` (or
            any code outside the fitted rows) for users unseen at fit time.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items): row ``j``
            belongs to ``user_codes[j]`` (typically ``train[user_codes]``).
        k
            Number of items per user.
        exclude_seen
            Drop items with a non-zero entry in the user's row (recommend only
            new items).
        item_mask
            Boolean, shape (n_items,): True = allowed (e.g. in stock).

        Returns
        -------
        item_codes : ndarray, shape (n, k), int64 (``-1`` pads)
        scores : ndarray, shape (n, k), float64 (``-inf`` pads), descending
        """
        codes, rows, k, mask = self._check_request(user_codes, user_items, k, item_mask)
        out_items = np.full((len(codes), k), PAD_ITEM, dtype=np.int64)
        out_scores = np.full((len(codes), k), -np.inf)
        for lo, hi in blocks(len(codes), self.n_items_):
            scores = self._masked_scores(codes[lo:hi], rows[lo:hi], exclude_seen, mask)
            out_items[lo:hi], out_scores[lo:hi] = top_k(scores, k, self.tiebreak_order_)
        return out_items, out_scores

    def similar_items(
        self, item_codes: np.ndarray, k: int = 10, *, item_mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Items most related to each query item ("customers who bought this also bought").

        Parameters
        ----------
        item_codes
            Query items, shape (n,) int in ``[0, n_items_)``.
        k
            Number of items per query; the query item itself is never returned.
        item_mask
            Boolean, shape (n_items,): True = allowed.

        Returns
        -------
        item_codes : ndarray, shape (n, k), int64 (``-1`` pads)
        scores : ndarray, shape (n, k), float64 (``-inf`` pads), descending
        """
        self.check_is_fitted()
        items = check_codes(item_codes, "item_codes")
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            bad = items[(items < 0) | (items >= self.n_items_)]
            raise KizunaInputError(
                f"item codes must lie in [0, {self.n_items_})", column="item_codes", values=bad
            )
        k = check_k(k)
        mask = self._check_mask(item_mask)
        out_items = np.full((len(items), k), PAD_ITEM, dtype=np.int64)
        out_scores = np.full((len(items), k), -np.inf)
        for lo, hi in blocks(len(items), self.n_items_):
            block = items[lo:hi]
            scores = np.array(self._similar(block), dtype=np.float64)
            scores[np.arange(len(block)), block] = -np.inf
            if mask is not None:
                scores[:, ~mask] = -np.inf
            out_items[lo:hi], out_scores[lo:hi] = top_k(scores, k, self.tiebreak_order_)
        return out_items, out_scores

    def score_items(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Dense scores of every item for each user, shape (n, n_items) float64.

        Unmasked and unsorted: ``recommend`` is this plus masking and top-k.
        Meant for small batches (blending, diagnostics).

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        numpy.ndarray
            Shape (n, n_items), float64.
        """
        codes, rows, _, _ = self._check_request(user_codes, user_items, 1, None)
        return np.array(self._score(codes, rows), dtype=np.float64)

    # --- hooks for subclasses ---------------------------------------------------------

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        raise NotImplementedError

    def _user_state(self, codes: np.ndarray) -> dict[str, Any]:
        """Per-user arrays' rows of ``codes`` (checked); models with per-user state override."""
        return {}

    def _set_user_state(self, state: dict[str, Any]) -> None:
        """Install ``state`` (from :meth:`_user_state`, or ``{"n_users": 0}``) on a copy."""

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score_for(
        self, user_codes: np.ndarray, user_items: sp.csr_matrix, exclude_seen: bool
    ) -> np.ndarray:
        """Scores for a request; models that rank new items differently override this."""
        return self._score(user_codes, user_items)
