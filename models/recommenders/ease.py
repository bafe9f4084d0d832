"""EASE: a closed-form item-item linear model (Steck 2019, "Embarrassingly Shallow Autoencoders").

The weight matrix ``B`` (n_items x n_items) minimises

    ||X - X B||^2 + regularization * ||B||^2   subject to   diag(B) = 0

for the binary user x item matrix ``X``, with the closed form

    P = (X^T X + regularization * I)^-1,   B_ij = -P_ij / P_jj  (i != j),   B_jj = 0.

Column ``j`` of ``B`` is the ridge regression of item ``j`` on all the other
items, so a user's score of item ``j`` is ``sum over bought items i of B_ij``.
Weights may be negative (an item that "replaces" another).

The solve is a dense (n_items x n_items) Cholesky factorisation in single
precision (weights within ~1e-5 relative of the double-precision ones): about
0.4 s for Online Retail's 3,438 items on one core, but cubic in the catalogue
(and 4 n_items^2 bytes), so ``max_items`` refuses
larger catalogues (:class:`HybridRecommender` then leaves the component out).
Only each item's ``neighbours`` largest weights (by magnitude) are kept, in a
sparse matrix: the model stays small and, on Online Retail, ranks new items
better than the full matrix did.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.base import Recommender


class EASERecommender(Recommender):
    """Closed-form item-item regression on which items users bought.

    Parameters
    ----------
    regularization
        Ridge penalty ``lambda`` added to the diagonal of the item Gram
        matrix (co-purchase counts); larger = smoother, more popular items.
    neighbours
        Weights kept per target item (the largest in magnitude); ``None``
        keeps all of them.
    max_items
        Largest catalogue to fit: the solve needs O(n_items^2) memory and
        O(n_items^3) time. Above it ``fit`` raises :class:`KizunaInputError`.
    num_threads
        BLAS threads for the factorisation.

    Attributes
    ----------
    weights_
        ``csr_matrix`` (n_items, n_items) float64: ``B`` with zero diagonal,
        row ``i`` = what buying item ``i`` says about every other item.
    """

    fit_inputs: ClassVar[tuple[str, ...]] = ("user_items",)

    def __init__(
        self,
        regularization: float = 300.0,
        neighbours: int | None = 50,
        max_items: int = 8_000,
        num_threads: int = 1,
    ) -> None:
        self.regularization = regularization
        self.neighbours = neighbours
        self.max_items = max_items
        self.num_threads = num_threads

    def _fit(
        self, user_items: sp.csr_matrix, recent: np.ndarray | None, categories: np.ndarray | None
    ) -> None:
        lam = self.regularization
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam > 0:
            raise KizunaInputError("must be a positive number", column="regularization",
                                   values=[lam])  # fmt: skip
        if self.neighbours is not None and (
            isinstance(self.neighbours, bool)
            or not isinstance(self.neighbours, (int, np.integer))
            or self.neighbours < 1
        ):
            raise KizunaInputError("must be a positive integer or None", column="neighbours",
                                   values=[self.neighbours])  # fmt: skip
        n_items = user_items.shape[1]
        if n_items > self.max_items:
            raise KizunaInputError(
                f"EASE solves a dense {n_items} x {n_items} system; the catalogue is larger "
                f"than max_items={self.max_items}",
                column="max_items",
            )
        self.weights_ = ease_weights(user_items, float(lam), self.neighbours, self.num_threads)

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return (binarize(user_items) @ self.weights_).toarray()

    def raw_scores(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Scores of every item, shape (n, n_items): unmasked and unscaled.

        For blending inside a composite model (the hybrid, the candidate pool):
        ``user_codes`` and ``user_items`` as for :meth:`recommend`, not checked again.

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        numpy.ndarray
            Shape (n, n_items).
        """
        return self._score(user_codes, user_items)

    def _similar(self, item_codes: np.ndarray) -> np.ndarray:
        return self.weights_[item_codes].toarray()


def ease_weights(
    user_items: sp.csr_matrix,
    regularization: float,
    neighbours: int | None = None,
    num_threads: int = 1,
) -> sp.csr_matrix:
    """EASE's ``B`` for a users x items matrix (binarised), pruned to ``neighbours`` per column.

    Parameters
    ----------
    user_items
        Purchases, ``csr_matrix`` shape (n_users, n_items); binarised.
    regularization
        The L2 weight added to the Gram matrix's diagonal.
    neighbours
        Largest weights kept per column; None keeps all.
    num_threads
        BLAS threads.

    Returns
    -------
    csr_matrix, shape (n_items, n_items), float64, zero diagonal.
    """
    X = binarize(user_items)
    n = X.shape[1]
    # The Gram matrix is symmetric: its transpose is the same matrix in Fortran order,
    # which LAPACK factors and inverts in place (no n x n copy). Single precision: half
    # the time and memory of the cubic solve; the co-purchase counts are exact in it, and
    # only each column's largest weights are kept.
    gram = np.asarray((X.T @ X).toarray(), dtype=np.float32).T
    gram[np.diag_indices(n)] += regularization
    with threadpool_limits(num_threads, "blas"):
        # Cholesky + inverse from the factor: half the work of a general inverse.
        factor, _ = sla.cho_factor(gram, lower=False, overwrite_a=True, check_finite=False)
        inverse, info = sla.lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:  # pragma: no cover - the Gram matrix plus a positive ridge is positive definite
        raise KizunaInputError("the item Gram matrix could not be inverted", column="user_items")
    mirror_upper(inverse)  # spotri fills the upper triangle only
    # P is symmetric, so row j of its transpose (C order) is column j of P, and B's column j
    # is that row over -P_jj: each column's scaling and selection reads contiguous memory.
    columns = inverse.T
    columns /= -np.diag(columns).copy()[:, None]
    columns[np.diag_indices(n)] = 0.0
    if neighbours is None or neighbours >= n - 1:
        out = sp.csr_matrix(columns.T, dtype=np.float64)
    else:
        magnitude = np.abs(columns)
        np.negative(magnitude, out=magnitude)
        keep = np.argpartition(magnitude, neighbours - 1, axis=1)[:, :neighbours]
        del magnitude
        target = np.broadcast_to(np.arange(n)[:, None], keep.shape)
        values = columns[target, keep].astype(np.float64)
        out = sp.csr_matrix((values.ravel(), (keep.ravel(), target.ravel())), shape=(n, n))
    out.eliminate_zeros()
    out.sort_indices()
    return out


def mirror_upper(square: np.ndarray, block: int = 256) -> None:
    """Copy the upper triangle of ``square`` (n, n) onto its lower triangle, in place.

    The same values as ``np.triu(a) + np.triu(a, 1).T`` (but for the sign of a
    zero), block by block, without the three n x n temporaries.

    Parameters
    ----------
    square
        Square matrix, shape (n, n), changed in place.
    block
        Rows copied per step.
    """
    n = square.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        square[start:stop, :start] = square[:start, start:stop].T
        diagonal = square[start:stop, start:stop]
        lower = np.tril_indices(stop - start, -1)
        diagonal[lower] = diagonal.T[lower]


def binarize(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """A purchase history as EASE sees it: 1 where a count is positive, else nothing.

    Parameters
    ----------
    matrix
        User-item weights, shape (n_users, n_items).

    Returns
    -------
    scipy.sparse.csr_matrix
        A float64 copy holding ones at the positive entries (zeros dropped).
    """
    out = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    out.data = (out.data > 0).astype(np.float64)
    out.eliminate_zeros()
    return out
