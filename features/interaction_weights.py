"""Weighting of user x item counts (count, log, BM25, TF-IDF), fitted once and reused on new rows.

The one weighting transformer of kizuna: training weighs the interaction
matrix with it, and the service weighs a customer's refreshed history with the
same fitted statistics (:mod:`serving.weighting`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from kizuna.features.errors import KizunaInputError

Weighting = Literal["count", "log", "bm25", "tfidf"]
WEIGHTINGS: tuple[str, ...] = ("count", "log", "bm25", "tfidf")


class InteractionWeigher(TransformerMixin, BaseEstimator):
    """Count, log, BM25 or TF-IDF weighting of user x item counts, reusable on new rows.

    Users are the documents and items the terms, as in implicit's
    ``bm25_weight`` / ``tfidf_weight``: ``fit(counts).transform(counts)``
    equals them on the full matrix, and ``transform(rows)`` weighs any rows
    (a customer's refreshed history, users unseen at fit) with the fitted
    population statistics, as if they were rows of that matrix.

    Parameters
    ----------
    weighting
        ``"count"`` (as is), ``"log"`` (``log1p``), ``"bm25"`` or ``"tfidf"``.
    k1, b
        BM25 saturation and length normalisation (implicit's defaults).

    Attributes
    ----------
    idf_ : numpy.ndarray or None
        Shape (n_items,): ``log(n_users) - log1p(users with the item)``; None
        for ``count`` and ``log`` (BM25's idf is negative for an item nearly
        every user bought, as in implicit).
    average_length_ : float
        Mean row sum of the fitted counts (BM25's length normaliser).
    n_items_ : int
    """

    def __init__(self, weighting: Weighting = "count", k1: float = 100.0, b: float = 0.8) -> None:
        self.weighting = weighting
        self.k1 = k1
        self.b = b

    def fit(self, counts: sp.spmatrix, y: object = None) -> InteractionWeigher:
        """Learn item idf and the mean row length from ``counts`` (n_users, n_items).

        Parameters
        ----------
        counts
            Purchase counts, shape (n_users, n_items).
        y
            Ignored (scikit-learn's signature).

        Returns
        -------
        InteractionWeigher
            ``self``.
        """
        self._check_weighting()
        X = _count_matrix(counts, "counts", copy=False)
        users_with = np.bincount(X.indices, minlength=X.shape[1])
        lengths = np.asarray(X.sum(axis=1)).ravel()
        average = float(lengths.mean()) if X.shape[0] else 1.0
        return self.fit_statistics(X.shape[0], users_with, average)

    def fit_statistics(
        self, n_users: int, users_with_item: np.ndarray, average_length: float
    ) -> InteractionWeigher:
        """Learn from population sums instead of the matrix (e.g. added up over shards).

        Parameters
        ----------
        n_users
            Rows of the population's count matrix.
        users_with_item
            Shape (n_items,): users with a non-zero count of each item.
        average_length
            Mean row sum of the counts (e.g. the shards' total over ``n_users``).

        Returns
        -------
        InteractionWeigher
            ``self``.
        """
        self._check_weighting()
        users_with_item = np.asarray(users_with_item)
        self.n_items_ = len(users_with_item)
        self.idf_ = None
        if self.weighting in ("bm25", "tfidf"):
            self.idf_ = np.log(max(n_users, 1)) - np.log1p(users_with_item)
        self.average_length_ = float(average_length)
        return self

    def _check_weighting(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise KizunaInputError(f"must be one of {list(WEIGHTINGS)}", column="weighting",
                                   values=[self.weighting])  # fmt: skip
        # BM25 with k1 < 0 or b outside [0, 1] flips or blows up weights instead of failing.
        for name, value, low, high in (("k1", self.k1, 0.0, np.inf), ("b", self.b, 0.0, 1.0)):
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = np.nan
            if not low <= number <= high:
                raise KizunaInputError(f"must be a number in [{low}, {high}]", column=name,
                                       values=[value])  # fmt: skip

    def transform(self, rows: sp.spmatrix) -> sp.csr_matrix:
        """Weighted ``rows`` (n, n_items), canonical float32 CSR of the same pattern.

        Parameters
        ----------
        rows
            Purchase counts, shape (n, n_items).

        Returns
        -------
        scipy.sparse.csr_matrix
            Shape (n, n_items), float32.
        """
        check_is_fitted(self, "n_items_")
        X = _count_matrix(rows, "rows", copy=True)
        if X.shape[1] != self.n_items_:
            raise KizunaInputError(
                f"rows have {X.shape[1]} items; the weigher was fitted on {self.n_items_}",
                column="rows",
            )
        if self.weighting == "log":
            X.data = np.log1p(X.data)
        elif self.weighting == "tfidf":
            X.data = np.sqrt(X.data) * self.idf_[X.indices]
        elif self.weighting == "bm25":
            lengths = np.asarray(X.sum(axis=1)).ravel()
            norm = (1.0 - self.b) + self.b * lengths / max(self.average_length_, 1e-12)
            row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            X.data = X.data * (self.k1 + 1.0) / (self.k1 * norm[row_of] + X.data)
            X.data *= self.idf_[X.indices]
        out = sp.csr_matrix(X, dtype=np.float32)
        out.sort_indices()
        return out


def _count_matrix(counts: object, name: str, *, copy: bool) -> sp.csr_matrix:
    """``counts`` as a float64 CSR matrix, refusing what is no 2-D numeric matrix and NaN,
    infinite or negative counts (which the weightings turn into NaN silently)."""
    try:
        if not sp.issparse(counts) and np.ndim(counts) != 2:  # scipy reads None as 1 x 1
            raise ValueError(f"{np.ndim(counts)} dimensions")
        X = sp.csr_matrix(counts, dtype=np.float64, copy=copy)
    except (TypeError, ValueError) as exc:
        raise KizunaInputError(
            f"must be a 2-D matrix of counts (users x items), not {type(counts).__name__}: {exc}",
            column=name,
        ) from None
    bad = ~np.isfinite(X.data) | (X.data < 0)
    if bad.any():
        raise KizunaInputError(
            f"must hold finite, non-negative counts; {int(bad.sum())} cells do not",
            column=name,
            values=X.data[bad],
        )
    return X
