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
from sklearn.exceptions import NotFittedError

from kizuna.features.errors import KizunaInputError

# Dense score blocks are computed this many cells at a time, so a large
# catalogue never needs an (n_users, n_items) array in memory at once.
_BLOCK_CELLS = 2_000_000

PAD_ITEM = -1


class Recommender(BaseEstimator):
    """Base class: ``fit`` / ``recommend`` / ``similar_items`` on integer codes.

    Class attributes
    ----------------
    only_seen_items
        True for models that can only recommend items the user already bought
        ("buy again"); evaluation skips them in the ``new`` mode.
    """

    only_seen_items: ClassVar[bool] = False

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
        # Set before _fit, which may use them; n_items_ (the fitted flag) last.
        self.item_popularity_ = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
        self.tiebreak_order_ = np.argsort(-self.item_popularity_, kind="stable")
        self._fit(X, recent, categories)
        self.n_users_, self.n_items_ = X.shape
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
        for lo, hi in _blocks(len(codes), self.n_items_):
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
        for lo, hi in _blocks(len(items), self.n_items_):
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
        """
        codes, rows, _, _ = self._check_request(user_codes, user_items, 1, None)
        return np.array(self._score(codes, rows), dtype=np.float64)

    def update_user(self, user_code: int, row: sp.csr_matrix) -> bool:
        """Refresh what the model keeps of one fitted user after new purchases (in place).

        For serving: a known customer's recommendations follow their new
        history without a refit. ``row`` is the user's raw-count history,
        ``csr_matrix`` of shape (1, n_items). Models that keep nothing per
        user (they read the history row on every call) only check the
        arguments; factor models re-solve the user's factors against the
        fixed item factors.

        Returns
        -------
        bool
            Whether anything kept per user changed.
        """
        self.check_user_row(user_code, row)
        return False

    def check_user_row(self, user_code: int, row: Any) -> sp.csr_matrix:
        """``row`` as a (1, n_items) CSR after checking ``user_code`` is a fitted user's."""
        self.check_is_fitted()
        if not 0 <= int(user_code) < self.n_users_:
            raise KizunaInputError(
                f"must be a fitted user's code in [0, {self.n_users_})",
                column="user_code", values=[user_code],
            )  # fmt: skip
        rows = check_user_items(row, name="row")
        if rows.shape != (1, self.n_items_):
            raise KizunaInputError(
                f"must have shape (1, {self.n_items_}), got {rows.shape}", column="row"
            )
        return rows

    def check_is_fitted(self) -> None:
        """Raise :class:`sklearn.exceptions.NotFittedError` before ``fit``."""
        if not hasattr(self, "n_items_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(user_items) first"
            )

    # --- hooks for subclasses ---------------------------------------------------------

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        raise NotImplementedError

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score_for(
        self, user_codes: np.ndarray, user_items: sp.csr_matrix, exclude_seen: bool
    ) -> np.ndarray:
        """Scores for a request; models that rank new items differently override this."""
        return self._score(user_codes, user_items)

    # --- shared machinery -------------------------------------------------------------

    def _masked_scores(
        self,
        codes: np.ndarray,
        rows: sp.csr_matrix,
        exclude_seen: bool,
        mask: np.ndarray | None,
        scores: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores (computed, or a copy of those given) with excluded cells at ``-inf``."""
        source = self._score_for(codes, rows, exclude_seen) if scores is None else scores
        scores = np.array(source, dtype=np.float64)
        if exclude_seen:
            seen_rows = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
            seen = rows.data != 0
            scores[seen_rows[seen], rows.indices[seen]] = -np.inf
        if mask is not None:
            scores[:, ~mask] = -np.inf
        return scores

    def _check_request(
        self, user_codes: Any, user_items: Any, k: Any, item_mask: Any
    ) -> tuple[np.ndarray, sp.csr_matrix, int, np.ndarray | None]:
        self.check_is_fitted()
        codes = check_codes(user_codes, "user_codes")
        rows = check_user_items(user_items, name="user_items")
        if rows.shape != (len(codes), self.n_items_):
            raise KizunaInputError(
                f"needs one row per user code and {self.n_items_} item columns, i.e. shape "
                f"({len(codes)}, {self.n_items_}); got {rows.shape}",
                column="user_items",
            )
        return codes, rows, check_k(k), self._check_mask(item_mask)

    def _check_mask(self, item_mask: Any) -> np.ndarray | None:
        if item_mask is None:
            return None
        mask = np.asarray(item_mask)
        if mask.dtype != bool or mask.shape != (self.n_items_,):
            raise KizunaInputError(
                f"must be a boolean array of shape ({self.n_items_},), got {mask.dtype} "
                f"{mask.shape}",
                column="item_mask",
            )
        return mask


# --- helpers shared by the recommenders ----------------------------------------------


def check_user_items(matrix: Any, *, name: str) -> sp.csr_matrix:
    """A 2-D sparse matrix of finite, non-negative values, as canonical float32 CSR."""
    if not sp.issparse(matrix) or matrix.ndim != 2:
        raise KizunaInputError(
            f"must be a 2-D scipy sparse matrix (users x items), got {type(matrix).__name__}",
            column=name,
        )
    out = sp.csr_matrix(matrix, dtype=np.float32)
    if not out.has_canonical_format:
        out = out.copy()
        out.sum_duplicates()
    bad = ~np.isfinite(out.data) | (out.data < 0)
    if bad.any():
        raise KizunaInputError(
            "must hold finite, non-negative interaction strengths", column=name,
            values=out.data[bad],
        )  # fmt: skip
    return out


def item_vector(values: Any, n_items: int) -> np.ndarray:
    """Per-item totals, shape (n_items,) float64, from a sparse matrix or a vector."""
    if sp.issparse(values):
        if values.ndim != 2 or values.shape[1] != n_items:
            raise KizunaInputError(
                f"needs {n_items} item columns, got shape {values.shape}", column="recent_items"
            )
        out = np.asarray(values.sum(axis=0), dtype=np.float64).ravel()
    else:
        out = np.asarray(values, dtype=np.float64)
        if out.shape != (n_items,):
            raise KizunaInputError(
                f"needs shape ({n_items},), got {out.shape}", column="recent_items"
            )
    bad = ~np.isfinite(out) | (out < 0)
    if bad.any():
        raise KizunaInputError("must be finite and non-negative", column="recent_items",
                               values=out[bad])  # fmt: skip
    return out


def check_codes(codes: Any, name: str) -> np.ndarray:
    """Integer codes, shape (n,) int64."""
    arr = np.asarray(codes)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise KizunaInputError(
            f"must be a 1-D array of integer codes, got {arr.dtype} {arr.shape}", column=name
        )
    return arr.astype(np.int64, copy=False)


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise KizunaInputError("must be a positive integer", column="k", values=[k])
    return int(k)


def top_k(
    scores: np.ndarray, k: int, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row, best first; ``-inf`` cells come back as -1.

    Parameters
    ----------
    scores
        Shape (n, n_items) float; ``-inf`` = not allowed. NaN counts as ``-inf``.
    k
        Columns to return; more than ``n_items`` pads with -1 / ``-inf``.
    order
        Tie-break: a permutation of the item codes, preferred first, shape
        (n_items,). Default: lower code first.

    Returns
    -------
    items : (n, k) int64, scores : (n, k) float64
    """
    n, n_items = scores.shape
    scores = np.where(np.isnan(scores), -np.inf, scores)
    if order is not None:
        scores = scores[:, order]
    kk = min(k, n_items)
    if kk < n_items:
        # argpartition picks an arbitrary member of a tie at the cut, so only the
        # cut value is taken from it; ties at the cut go to the first columns.
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        cut = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
        better = scores > cut
        equal = scores == cut
        need = kk - better.sum(axis=1, keepdims=True)
        chosen = better | equal
        # Only rows with more ties at the cut than places left need the (costly)
        # running count; with continuous scores that is rarely any row.
        crowded = np.flatnonzero(equal.sum(axis=1) > need[:, 0])
        if crowded.size:
            sub = equal[crowded]
            chosen[crowded] = better[crowded] | (sub & (np.cumsum(sub, axis=1) <= need[crowded]))
        cols = np.nonzero(chosen)[1].reshape(n, kk)
    else:
        cols = np.broadcast_to(np.arange(n_items), (n, n_items))
    vals = np.take_along_axis(scores, cols, axis=1)
    rank = np.argsort(-vals, axis=1, kind="stable")
    items = np.take_along_axis(cols, rank, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, rank, axis=1)
    if order is not None:
        items = np.asarray(order, dtype=np.int64)[items]
    items[np.isneginf(vals)] = PAD_ITEM
    if kk < k:
        items = np.hstack([items, np.full((n, k - kk), PAD_ITEM, dtype=np.int64)])
        vals = np.hstack([vals, np.full((n, k - kk), -np.inf)])
    return items, vals


def per_user_max_scale(scores: np.ndarray) -> np.ndarray:
    """Clip at 0 and divide each row by its maximum, so a user's best item scores 1.

    Rows without a positive score become all zero. Shape (n, n_items) -> same.
    """
    out = np.maximum(scores, 0.0)
    top = out.max(axis=1, keepdims=True) if out.shape[1] else np.zeros((out.shape[0], 1))
    np.divide(out, top, out=out, where=top > 0)
    return out


def _blocks(n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    step = max(1, _BLOCK_CELLS // max(n_cols, 1))
    return [(lo, min(lo + step, n_rows)) for lo in range(0, n_rows, step)]
