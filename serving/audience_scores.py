"""The recommender's scores of every customer over the catalogue, kept for ``/audience``.

An audience needs each customer's score for the target items and their
lowest and highest score over the whole catalogue, which no request changes;
scoring the catalogue for every customer was most of each request's time, and
grows with customers x items. :class:`AudienceScores` scores it once per
snapshot (:func:`kept_scores`: at load, by the service, or on the first audience
request) and keeps the matrix, item-major so
that one item's column is contiguous. Customers whose history changed through
events since are rescored on the next request, and new customers are added,
so answers are the same as scoring afresh.

A snapshot too large for :data:`MAX_CACHE_BYTES` is scored in blocks on every
request, as before.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from kizuna.models.audience import (
    best_target_score,
    scaled_affinity,
    score_ranges,
    target_rank,
)

logger = logging.getLogger("bentoml.kizuna")

#: Largest score matrix kept (float64 customers x items); larger shops score per request.
MAX_CACHE_BYTES = 512 * 2**20
#: Customers scored per block (bounds the memory of one scoring call).
CHUNK = 2_000


def recommender_codes(st: Any, positions: np.ndarray) -> np.ndarray:
    """The recommender's row of the customers at ``positions``, shape (n,) int64; -1 if unseen."""
    bundle = st.recommender
    if bundle is None:
        return np.full(len(positions), -1, dtype=np.int64)
    ids = st.features.index[np.asarray(positions, dtype=np.int64)]
    return bundle.user_ids.get_indexer(ids).astype(np.int64, copy=False)


def score_rows(st: Any, model: Any, positions: np.ndarray) -> np.ndarray:
    """Scores of the customers at ``positions`` over the catalogue, shape (n, n_items) float64."""
    positions = np.asarray(positions, dtype=np.int64)
    out = np.empty((len(positions), st.catalogue.n_items))
    for lo in range(0, len(positions), CHUNK):
        pos = positions[lo : lo + CHUNK]
        out[lo : lo + len(pos)] = model.score_items(
            recommender_codes(st, pos), st.history_rows(pos)
        )
    return out


class AudienceScores:
    """Scores of every customer of a snapshot over its catalogue, with their ranges.

    Parameters
    ----------
    model
        The served recommender (``score_items``).

    Attributes
    ----------
    scores : ndarray, shape (n_customers, n_items), float64, column-major
    lo, hi : ndarray, shape (n_customers,)
        Each customer's lowest and highest finite score (:func:`models.audience.score_ranges`).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.scores = np.empty((0, 0), order="F")
        self.lo = self.hi = np.empty(0)
        self._synced: dict[int, int] | None = None  # the state's overrides when last synced
        self._lock = threading.Lock()

    @staticmethod
    def fits(st: Any) -> bool:
        """Whether the snapshot's score matrix fits :data:`MAX_CACHE_BYTES`."""
        return st.n_customers * st.catalogue.n_items * 8 <= MAX_CACHE_BYTES

    def affinity(self, st: Any, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(affinity, best target score) of every customer of ``st``, shape (n_customers,) each.

        Rescores first what the state changed since the last call (everything the first time).
        """
        with self._lock:
            self._sync(st)
            best = best_target_score(self.scores[:, targets])
            return scaled_affinity(best, self.lo, self.hi), best

    def ranks(self, positions: np.ndarray, best: np.ndarray) -> np.ndarray:
        """:func:`models.audience.target_rank` of the customers at ``positions``, shape (n,)."""
        with self._lock:
            return target_rank(self.scores[np.asarray(positions, dtype=np.int64)], best)

    def _sync(self, st: Any) -> None:
        """Score what ``st`` changed since the last call (everything the first time)."""
        overrides, n = st.overrides, st.n_customers
        if self._synced is None:
            self._store(np.arange(n), score_rows(st, self.model, np.arange(n)), n)
        elif overrides is not self._synced or n != len(self.lo):
            old = self._synced
            changed = [p for p, slot in overrides.items() if old.get(p) != slot]
            rows = np.union1d(np.asarray(changed, dtype=np.int64), np.arange(len(self.lo), n))
            if rows.size:
                self._store(rows, score_rows(st, self.model, rows), n)
        self._synced = overrides

    def _store(self, rows: np.ndarray, scores: np.ndarray, n: int) -> None:
        if n != len(self.lo):  # the first fill, or new customers: a larger matrix
            grown = np.empty((n, scores.shape[1]), order="F")
            if len(self.lo):
                grown[: len(self.lo)] = self.scores
            lo, hi = np.full(n, np.nan), np.full(n, np.nan)
            lo[: len(self.lo)], hi[: len(self.hi)] = self.lo, self.hi
            self.scores, self.lo, self.hi = grown, lo, hi
        self.scores[rows] = scores
        self.lo[rows], self.hi[rows] = score_ranges(scores)


def kept_scores(served: Any) -> AudienceScores | None:
    """The snapshot's kept scores (made empty on first use); None if they would not fit."""
    st, rec = served.state, served.models.recommender
    if rec is None or not AudienceScores.fits(st):
        return None
    return st.extras.setdefault("audience_scores", AudienceScores(rec.model))


def warm(served: Any) -> None:
    """Score every customer of a freshly loaded snapshot now, so no request waits for it.

    Run in a background thread after a load; a failure is logged, never raised.
    """
    try:
        kept = kept_scores(served)
        if kept is not None:
            kept.affinity(served.state, np.zeros(served.state.catalogue.n_items, bool))
    except Exception:  # noqa: BLE001 - the first /audience request scores it again, or says why
        logger.exception("scoring the snapshot's audiences in advance failed")
