"""The ground truth of a ranking evaluation: parsed, checked and indexed once.

A truth is, per user, the set of relevant item codes: a list of arrays, or a
sparse matrix whose non-zero cells are relevant (shape (n_users, n_codes)).
:class:`TruthIndex` sorts it into integer keys, so that the hits of any
ranking of the same users are a binary search away (:mod:`training.metrics`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError

Truth = Sequence[np.ndarray] | sp.spmatrix


class TruthIndex:
    """One ground truth, indexed once, against which many rankings of its users are looked up.

    A tuning grid ranks the same users hundreds of times; :func:`training.metrics.hit_matrix`
    builds this index per call; the blend-weight tuning once (see :func:`training.metrics.ndcg_of_hits`).

    Parameters
    ----------
    truth
        Relevant codes per user: list of n arrays, or sparse (n, n_codes).
    n
        Number of users (rows of every ranking looked up).
    """

    def __init__(self, truth: Truth, n: int) -> None:
        rows, codes = truth_pairs(truth, n)
        self.n = n
        #: shape (n,) int64: distinct relevant codes per user
        self.n_relevant = np.bincount(rows, minlength=n).astype(np.int64)
        self.span = int(codes.max(initial=-1)) + 1  # every truth code is below it
        self.keys = rows * self.span + codes  # unique and sorted by construction

    def hits(self, recs: np.ndarray) -> np.ndarray:
        """Which of ``recs`` (int64, shape (n, k), negative = padding) are relevant: (n, k) bool.

        Parameters
        ----------
        recs
            Item codes, shape (n, k) int64; negative = padding.

        Returns
        -------
        numpy.ndarray
            Shape (n, k), bool.
        """
        # A code at or above span (or padding) is in no user's truth.
        known = (recs >= 0) & (recs < self.span)
        if not self.keys.size:
            return known & False
        rec_keys = np.arange(self.n, dtype=np.int64)[:, None] * self.span + np.where(known, recs, 0)
        pos = np.minimum(np.searchsorted(self.keys, rec_keys), self.keys.size - 1)
        return known & (self.keys[pos] == rec_keys)


def truth_pairs(truth: Truth, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (row, code) pairs of the truth, sorted by row then code.

    Parameters
    ----------
    truth
        Relevant codes per user: list of n arrays, or sparse (n, n_codes).
    n
        Number of users.

    Returns
    -------
    rows, codes : numpy.ndarray
        Each shape (n_pairs,), int64.
    """
    if sp.issparse(truth):
        m = sp.csr_matrix(truth)
        if m.shape[0] != n:
            raise KizunaInputError(
                f"has {m.shape[0]} rows but there are {n} recommendation rows", column="truth"
            )
        m = m.copy()
        m.sum_duplicates()
        m.eliminate_zeros()
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(m.indptr))
        return rows, m.indices.astype(np.int64)
    if isinstance(truth, np.ndarray) and truth.dtype != object and truth.ndim == 2:
        raise KizunaInputError(
            "pass a list of arrays (one per user) or a sparse matrix, not a 2-D array",
            column="truth",
        )
    if len(truth) != n:
        raise KizunaInputError(
            f"has {len(truth)} users but there are {n} recommendation rows", column="truth"
        )
    arrays = [np.asarray(t).ravel() for t in truth]
    sizes = np.array([a.size for a in arrays], dtype=np.int64)
    codes = np.concatenate(arrays) if arrays else np.array([], dtype=np.int64)
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise KizunaInputError("must hold integer item codes", column="truth", values=codes[:5])
    codes = codes.astype(np.int64, copy=False)
    if codes.size and codes.min() < 0:
        raise KizunaInputError("item codes must be >= 0", column="truth",
                               values=codes[codes < 0])  # fmt: skip
    rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
    span = int(codes.max(initial=0)) + 1
    keys = np.unique(rows * span + codes)
    return keys // span, keys % span
