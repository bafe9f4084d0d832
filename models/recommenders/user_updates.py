"""Per-user state of a fitted recommender: refresh after new purchases, cut to a few users.

:class:`UserUpdates` is part of :class:`~models.recommenders.base.Recommender`:
``update_user`` / ``update_users`` and the checks of their arguments (serving),
and ``user_state`` / ``for_users`` (a Spark shard holds only its customers'
state). Models that keep nothing per user only check the arguments; factor
models override the updates to re-solve the users' factors against the fixed
item factors.
"""

from __future__ import annotations

import copy
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.ranking import check_user_items


class UserUpdates:
    """Per-user state: ``update_user(s)``, ``user_state`` / ``for_users`` and their checks.

    A part of ``Recommender``.

    Needs the fitted ``n_users_`` and ``n_items_`` and ``check_is_fitted``.
    """

    n_users_: int
    n_items_: int
    check_is_fitted: Any
    _user_state: Any
    _set_user_state: Any

    def update_user(self, user_code: int, row: sp.csr_matrix) -> bool:
        """Refresh what the model keeps of one fitted user after new purchases (in place).

        For serving: a known customer's recommendations follow their new
        history without a refit. ``row`` is the user's raw-count history,
        ``csr_matrix`` of shape (1, n_items). Models that keep nothing per
        user (they read the history row on every call) only check the
        arguments; factor models re-solve the user's factors against the
        fixed item factors.

        Parameters
        ----------
        user_code
            The user's row in the fitted matrix, in ``[0, n_users_)``.
        row
            The user's new raw-count history, ``csr_matrix`` shape (1, n_items).

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

        Returns
        -------
        int
            How many users changed.
        """
        codes, rows = self.check_user_rows(user_codes, rows)
        return sum(bool(self.update_user(int(c), rows[j])) for j, c in enumerate(codes))

    def user_state(self, user_codes: Any) -> dict[str, Any]:
        """What the model keeps of the fitted users ``user_codes``, for :meth:`for_users`.

        Parameters
        ----------
        user_codes
            Fitted users' codes, shape (n,) int in ``[0, n_users_)``.

        Returns
        -------
        dict
            ``n_users`` (n) and the rows of each per-user array for these
            users, in this order. A model that keeps nothing per user (it
            reads the history row on every call) returns ``n_users`` only.
        """
        codes = self._fitted_codes(user_codes)
        return {"n_users": int(codes.size), **self._user_state(codes)}

    def for_users(self, state: dict[str, Any] | None) -> Self:
        """A copy of the model whose fitted users are those of ``state``.

        User ``j`` of ``state`` (from :meth:`user_state`) is code ``j`` of the
        copy and scores as their code did in this model. With None the copy
        has no fitted users: everyone is scored from their row, as an unseen
        user. Item-side state is shared with this model, not copied; so a
        worker can hold the item side once and each batch's users alone.

        Parameters
        ----------
        state
            What :meth:`user_state` returned for some users, or None.

        Returns
        -------
        Self
            The copy.
        """
        self.check_is_fitted()
        state = {"n_users": 0} if state is None else state
        out = copy.copy(self)
        out.n_users_ = int(state["n_users"])
        out._set_user_state(state)
        return out

    def check_user_rows(self, user_codes: Any, rows: Any) -> tuple[np.ndarray, sp.csr_matrix]:
        """Codes (n,) and rows (n, n_items) CSR after checking they are fitted users'.

        Parameters
        ----------
        user_codes
            Rows of the users in the fitted matrix, shape (n,) int.
        rows
            Their histories, shape (n, n_items).

        Returns
        -------
        codes : numpy.ndarray
            Shape (n,), int64.
        rows : scipy.sparse.csr_matrix
            Shape (n, n_items).
        """
        codes = self._fitted_codes(user_codes)
        checked = check_user_items(rows, name="rows")
        if checked.shape != (codes.size, self.n_items_):
            raise KizunaInputError(
                f"must have shape ({codes.size}, {self.n_items_}), got {checked.shape}",
                column="rows",
            )
        return codes, checked

    def _fitted_codes(self, user_codes: Any) -> np.ndarray:
        """Codes (n,) int64 after checking they are fitted users'."""
        self.check_is_fitted()
        codes = np.asarray(user_codes, dtype=np.int64).ravel()
        bad = (codes < 0) | (codes >= self.n_users_)
        if bad.any():
            raise KizunaInputError(
                f"must be fitted users' codes in [0, {self.n_users_})",
                column="user_codes", values=codes[bad][:5].tolist(),
            )  # fmt: skip
        return codes

    def check_user_row(self, user_code: int, row: Any) -> sp.csr_matrix:
        """``row`` as a (1, n_items) CSR after checking ``user_code`` is a fitted user's.

        Parameters
        ----------
        user_code
            The user's row in the fitted matrix.
        row
            The user's history, shape (1, n_items).

        Returns
        -------
        scipy.sparse.csr_matrix
            Shape (1, n_items).
        """
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
