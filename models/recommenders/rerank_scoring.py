"""Scoring with the re-ranker (part of ``RerankedRecommender``): candidates, then rankers.

:class:`RerankScoring` gives :class:`~models.recommenders.reranker.RerankedRecommender`
its scores: in a ranked mode the union of the generators' candidates, ordered
by that mode's LambdaRank model (items outside the candidates far below); in
the other modes the hybrid's blend of the generators.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from kizuna.features.errors import KizunaInputError
from kizuna.models.recommenders.candidates import (
    blend_weights,
    generator_scores,
    union_candidates,
)
from kizuna.models.recommenders.ranking import PAD_ITEM, blocks, top_k
from kizuna.models.recommenders.rerank_features import candidate_features
from kizuna.models.recommenders.rerank_training import MODES

#: How far below a customer's lowest candidate the items outside the candidates score.
OUTSIDE_MARGIN = 1.0


class RerankScoring:
    """Candidate features and ranked scores of a fitted re-ranker (mixed into it)."""

    def _candidates(
        self,
        codes: np.ndarray,
        rows: sp.csr_matrix,
        exclude_seen: bool,
        *,
        scores: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate codes (n, m), validity (n, m) and features (n, m, n_features).

        ``scores``: the users' :func:`generator_scores`, when already made.
        """
        if scores is None:
            scores = generator_scores(self.generators_, codes, rows)
        exclude = rows.toarray() > 0 if exclude_seen else None
        cols, valid = union_candidates(scores, self.candidates_per_generator, exclude)
        timing = None if self.timing_ is None else self.timing_.rows(codes)
        blend = blend_weights(self.generator_params, exclude_seen=exclude_seen)
        return (
            cols,
            valid,
            candidate_features(scores, blend, cols, valid, rows, timing, self.items_),
        )

    def _score(self, user_codes: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self._score_for(user_codes, user_items, exclude_seen=False)

    def _score_for(
        self,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        exclude_seen: bool,
        *,
        scores: np.ndarray | None = None,
    ) -> np.ndarray:
        mode = "new" if exclude_seen else "all"
        if mode in self.rank_modes and not hasattr(self, "rankers_"):
            raise NotFittedError("the re-ranker has no rankers yet; call fit_rankers first")
        if mode not in self.rank_modes or mode not in self.rankers_:  # no ranker: the blend
            w = blend_weights(self.generator_params, exclude_seen=exclude_seen).astype(np.float64)
            unit = self.generators_.unit_component_scores(user_codes, user_items, w > 0)
            return (w[:, None, None] * unit).sum(axis=0)
        cols, valid, X = self._candidates(user_codes, user_items, exclude_seen, scores=scores)
        ranker = self.rankers_[mode]
        n, m = cols.shape
        pred = ranker.predict(X.reshape(n * m, -1), num_threads=1).reshape(n, m)
        # Items outside the candidates score just below the row's lowest candidate: last in
        # every ranking, while the candidates keep the whole range when scores are rescaled
        # per customer (an audience's affinity); a far floor would squash them to 1.
        lowest = np.where(valid, pred, np.inf).min(axis=1, initial=np.inf)
        floor = np.where(np.isfinite(lowest), lowest - OUTSIDE_MARGIN, 0.0)
        out = np.repeat(floor[:, None], self.n_items_, axis=1)
        r, c = np.nonzero(valid)
        out[r, cols[r, c]] = pred[r, c]
        return out

    def recommend_by_mode(
        self,
        user_codes: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        *,
        modes: tuple[str, ...] = MODES,
        exclude_all: bool = False,
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """:meth:`recommend` in several modes (``"new"``: ``exclude_seen``), by mode.

        ``exclude_all`` leaves seen items out of the ``"all"`` mode too (a
        protocol whose truth holds none of them).

        The generators score each block of users once for every ranked mode:
        the same lists as one :meth:`recommend` call per mode, for less work.

        Parameters
        ----------
        user_codes
            Row of each user in the fitted matrix, shape (n,) int; ``-1`` for unseen users.
        user_items
            The users' histories, ``csr_matrix`` shape (n, n_items).
        k
            Number of items per user.
        modes
            The modes to give, from ``"all"`` and ``"new"``.
        exclude_all
            Whether the ``"all"`` mode leaves seen items out too.

        Returns
        -------
        dict of str -> (numpy.ndarray, numpy.ndarray)
            Mode -> ``(item_codes, scores)``, each shape (n, k), as :meth:`recommend`.
        """
        codes, rows, k, _ = self._check_request(user_codes, user_items, k, None)
        bad = [m for m in modes if m not in MODES]
        if bad:
            raise KizunaInputError(f"modes must be among {list(MODES)}", column="modes",
                                   values=bad)  # fmt: skip
        out = {
            m: (
                np.full((len(codes), k), PAD_ITEM, dtype=np.int64),
                np.full((len(codes), k), -np.inf),
            )
            for m in modes
        }
        ranked = any(m in self.rank_modes for m in modes)
        for lo, hi in blocks(len(codes), self.n_items_):
            c, r = codes[lo:hi], rows[lo:hi]
            scores = generator_scores(self.generators_, c, r) if ranked else None
            for mode in modes:
                exclude = mode == "new" or exclude_all
                made = self._score_for(c, r, exclude, scores=scores)
                masked = self._masked_scores(c, r, exclude, None, scores=made)
                items, values = out[mode]
                items[lo:hi], values[lo:hi] = top_k(masked, k, self.tiebreak_order_)
        return out
