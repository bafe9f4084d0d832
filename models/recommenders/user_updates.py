"""Serving's refresh of a fitted user after new purchases, without a refit.

:class:`UserUpdates` is part of :class:`~models.recommenders.base.Recommender`:
``update_user`` / ``update_users`` and the checks of their arguments. Models
that keep nothing per user only check the arguments; factor models override
the two methods to re-solve the users' factors against the fixed item factors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.ranking import check_user_items


class UserUpdates:
    """``update_user`` / ``update_users`` with their checks (a part of ``Recommender``).

    Needs the fitted ``n_users_`` and ``n_items_`` and ``check_is_fitted``.
    """

    n_users_: int
    n_items_: int
    check_is_fitted: Any

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

    def update_users(self, user_codes: np.ndarray, rows: sp.csr_matrix) -> int:
        """:meth:`update_user` for several fitted users at once; return how many changed.

        Parameters
        ----------
        user_codes
            Fitted users' codes, shape (n,).
        rows
            Their raw-count history rows, ``csr_matrix`` of shape (n, n_items).

        Factor models override this to solve all users in one batch.
        """
        codes, rows = self.check_user_rows(user_codes, rows)
        return sum(bool(self.update_user(int(c), rows[j])) for j, c in enumerate(codes))

    def check_user_rows(self, user_codes: Any, rows: Any) -> tuple[np.ndarray, sp.csr_matrix]:
        """Codes (n,) and rows (n, n_items) CSR after checking they are fitted users'."""
        self.check_is_fitted()
        codes = np.asarray(user_codes, dtype=np.int64).ravel()
        bad = (codes < 0) | (codes >= self.n_users_)
        if bad.any():
            raise KizunaInputError(
                f"must be fitted users' codes in [0, {self.n_users_})",
                column="user_codes", values=codes[bad][:5].tolist(),
            )  # fmt: skip
        checked = check_user_items(rows, name="rows")
        if checked.shape != (codes.size, self.n_items_):
            raise KizunaInputError(
                f"must have shape ({codes.size}, {self.n_items_}), got {checked.shape}",
                column="rows",
            )
        return codes, checked

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
