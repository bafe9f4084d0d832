"""Purchase timing of the re-ranker's fitted users, kept up to date by live purchases."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kizuna.features.purchase_timing import PurchaseTiming

# Columns of the per-user table: days since last order, since first order, orders, price.
USER_COLUMNS = ("days_since_order", "days_since_first_order", "orders", "median_price")


class TimingState:
    """Days since each fitted user last / first bought each item, and their order rhythm.

    Built at fit time from a :class:`~features.purchase_timing.PurchaseTiming`.
    :meth:`update` records purchases that arrive later as made at the fit's
    instant (0 days ago): an item whose count in the user's history row went
    up was bought again, and the user ordered once more.

    Attributes
    ----------
    last_days, first_days, recent_orders
        ``csr_matrix`` (n_users, n_items) as in ``PurchaseTiming``.
    user
        (n_users, 4) float64, columns :data:`USER_COLUMNS`.
    counts
        The count history the timing describes, ``csr_matrix`` (n_users, n_items).
    """

    def __init__(
        self,
        last_days: sp.csr_matrix,
        first_days: sp.csr_matrix,
        recent_orders: sp.csr_matrix,
        user: np.ndarray,
        counts: sp.csr_matrix,
    ) -> None:
        self.last_days = last_days
        self.first_days = first_days
        self.recent_orders = recent_orders
        self.user = user
        self.counts = counts
        # Rows changed since the fit: code -> (last, first, recent orders, counts) rows.
        self.updated: dict[int, tuple[sp.csr_matrix, ...]] = {}

    @classmethod
    def from_timing(cls, timing: PurchaseTiming, counts: sp.csr_matrix) -> TimingState:
        user = np.column_stack(
            [timing.user_last_days, timing.user_first_days, timing.user_orders, timing.user_price]
        )
        return cls(
            timing.last_days, timing.first_days, timing.recent_orders, user,
            sp.csr_matrix(counts, copy=True),
        )  # fmt: skip

    def rows(
        self, codes: np.ndarray
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """``(last_days, first_days, recent_orders, user)`` rows of ``codes`` (n,).

        Unknown codes (outside the fitted users) get empty rows and NaN.

        Parameters
        ----------
        codes
            User codes, shape (n,) int.

        Returns
        -------
        last_days, first_days, recent_orders : scipy.sparse.csr_matrix
            Each shape (n, n_items).
        user : numpy.ndarray
            Shape (n, k): per-user timing columns; NaN for unknown codes.
        """
        n_users = self.last_days.shape[0]
        known = (codes >= 0) & (codes < n_users)
        safe = np.where(known, codes, 0)
        keep = sp.diags(known.astype(np.float64))
        mats = [(keep @ m[safe]).tocsr() for m in self._matrices()]
        user = np.where(known[:, None], self.user[safe], np.nan)
        hit = [j for j, c in enumerate(codes) if int(c) in self.updated]
        if hit:
            mats = [m.tolil() for m in mats]
            for j in hit:
                for m, row in zip(mats, self.updated[int(codes[j])][:3], strict=True):
                    m[j] = row
            mats = [m.tocsr() for m in mats]
        return mats[0], mats[1], mats[2], user

    def subset(self, codes: np.ndarray) -> TimingState:
        """The state of the fitted users ``codes`` (n,) alone: user ``j`` is ``codes[j]``.

        Purchases recorded by :meth:`update` are part of it.

        Parameters
        ----------
        codes
            Codes of fitted users, shape (n,) int.

        Returns
        -------
        TimingState
            Of n users.
        """
        codes = np.asarray(codes, dtype=np.int64)
        last, first, recent, user = self.rows(codes)
        counts = self.counts[codes]
        hit = [j for j, c in enumerate(codes) if int(c) in self.updated]
        if hit:
            counts = counts.tolil()
            for j in hit:
                counts[j] = self.updated[int(codes[j])][3]
            counts = counts.tocsr()
        return TimingState(last, first, recent, user.copy(), sp.csr_matrix(counts))

    def update(self, codes: np.ndarray, rows: sp.csr_matrix) -> int:
        """Record new purchases of fitted users (codes (n,), count rows (n, n_items)).

        Returns how many users had a count go up.

        Parameters
        ----------
        codes
            Codes of fitted users, shape (n,) int.
        rows
            Their new raw counts, ``csr_matrix`` shape (n, n_items).

        Returns
        -------
        int
            Users whose count went up.
        """
        changed = 0
        for j, code in enumerate(np.asarray(codes, dtype=np.int64)):
            code = int(code)
            before = self.updated.get(code) or (
                *(m[code] for m in self._matrices()),
                self.counts[code],
            )
            last, first, recent, old = (r.toarray().ravel() for r in before)
            new = rows[j].toarray().ravel().astype(np.float64)
            bought = np.flatnonzero(new > old)
            if bought.size == 0:
                continue
            first[bought] = np.where(old[bought] > 0, first[bought], 0.0)
            last[bought] = 0.0
            recent[bought] += 1.0
            present = new > 0
            self.updated[code] = (
                _row(last, present), _row(first, present), _row(recent, present),
                sp.csr_matrix(new[None, :]),
            )  # fmt: skip
            self.user[code, 0] = 0.0
            self.user[code, 2] += 1.0
            changed += 1
        return changed

    def _matrices(self) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
        return self.last_days, self.first_days, self.recent_orders


def _row(values: np.ndarray, present: np.ndarray) -> sp.csr_matrix:
    """A (1, n_items) CSR with explicit entries where ``present`` (zeros kept)."""
    idx = np.flatnonzero(present)
    return sp.csr_matrix((values[idx], idx, [0, idx.size]), shape=(1, values.size))
