"""The checks and masking every recommendation request goes through.

:class:`RequestChecks` is part of :class:`~models.recommenders.base.Recommender`
(as :class:`~models.recommenders.user_updates.UserUpdates` is): the fitted check,
the checks of user codes, histories, ``k`` and ``item_mask``, which items a request
leaves out, and the scores with the excluded cells at ``-inf``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.ranking import check_codes, check_k, check_user_items


class RequestChecks:
    """Request checks and masking: ``drops_seen``, ``check_is_fitted`` and their helpers.

    A part of ``Recommender``.

    Needs the fitted ``n_items_`` and the ``_score_for`` hook.
    """

    def drops_seen(self, exclude_seen: bool) -> bool:
        """Whether a request with this ``exclude_seen`` leaves the user's own items out.

        ``exclude_seen`` itself, unless the model has learned that nobody buys
        an item twice (the hybrid's ``seen_in_all``): every recommendation
        path (``recommend``, the pooled export, reasons) masks by this.

        Parameters
        ----------
        exclude_seen
            Whether the request asks for new items only.

        Returns
        -------
        bool
        """
        return bool(exclude_seen)

    def check_is_fitted(self) -> None:
        """Raise :class:`sklearn.exceptions.NotFittedError` before ``fit``."""
        if not hasattr(self, "n_items_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(user_items) first"
            )

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
        if self.drops_seen(exclude_seen):
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
