"""The recommender's scores of every customer over the catalogue, kept for ``/audience``.

An audience needs each customer's score for the target items and their
lowest and highest score over the whole catalogue, which no request changes;
scoring the catalogue for every customer was most of each request's time, and
grows with customers x items. :class:`AudienceScores` scores it once per
snapshot and keeps the matrix, item-major so that one item's column is
contiguous. Customers whose history changed through events since are rescored
on the next request, and new customers are added, so answers are the same as
scoring afresh.

The service fills the matrix in a background thread after each load
(:func:`serving.audience_cache.warm`). A request that arrives before it is
done waits at most ``KIZUNA_AUDIENCE_WAIT_SECONDS`` for it, then gets
:class:`ScoresPending`: a 503 with ``Retry-After`` (an estimate from the
progress so far), never a silent wait of unknown length; ``/status`` shows the
progress (:func:`serving.audience_cache.audience_status`). A caller that gives
no wait scores it (or waits for it) in its own thread. A snapshot whose matrix
would exceed ``KIZUNA_AUDIENCE_CACHE_BYTES`` is scored in blocks on every
request, as before, with nothing kept; so is a one-off audience
(``kizuna score audience`` keeps nothing).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import numpy as np

from kizuna.models.audience import (
    best_target_score,
    scaled_affinity,
    score_ranges,
    target_rank,
)
from kizuna.serving.catalogue_scores import CHUNK, score_rows

logger = logging.getLogger("bentoml.kizuna")

#: Bounds of the ``Retry-After`` a pending request is told (seconds).
RETRY_AFTER = (1, 60)


class ScoresPending(RuntimeError):
    """The kept scores are not ready yet: ``message`` says how far, ``retry_after`` when to ask."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


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
    done, total : int
        Customers scored so far by the first fill, and how many it scores.
    error : str or None
        Why the last fill failed (the next request starts another).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.scores = np.empty((0, 0), order="F")
        self.lo = self.hi = np.empty(0)
        self.done = self.total = 0
        self.error: str | None = None
        self._started = 0.0
        self._synced: dict[int, int] | None = None  # the state's overrides when last synced
        self._lock = threading.Lock()  # held while scoring
        self._start_lock = threading.Lock()
        self._filler: threading.Thread | None = None

    @staticmethod
    def fits(st: Any, max_bytes: int) -> bool:
        """Whether the snapshot's score matrix (float64) fits in ``max_bytes``.

        Parameters
        ----------
        st
            The serving state.
        max_bytes
            The memory budget of the kept scores.

        Returns
        -------
        bool
        """
        return st.n_customers * st.catalogue.n_items * 8 <= max_bytes

    @property
    def filled(self) -> bool:
        """Whether every customer of the snapshot has been scored once."""
        return self._synced is not None

    def fill_in_background(self, st: Any) -> threading.Thread | None:
        """Start scoring every customer in a thread, unless done or under way; that thread.

        Parameters
        ----------
        st
            The serving state.

        Returns
        -------
        threading.Thread or None
            The fill's thread; None when the scores are complete.
        """
        with self._start_lock:  # two requests at once start one thread
            if self.filled:
                return None
            filler = self._filler
            if filler is None or not filler.is_alive():
                filler = threading.Thread(
                    target=self._fill, args=(st,), name="kizuna-audience", daemon=True
                )
                self._filler = filler
                filler.start()
            return filler

    @property
    def scoring(self) -> bool:
        """Whether a background fill is running."""
        return self._filler is not None and self._filler.is_alive()

    def _fill(self, st: Any) -> None:
        try:
            with self._lock:
                self._sync(st)
            self.error = None
        except Exception as exc:  # noqa: BLE001 - reported by requests and /status, retried
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("scoring the snapshot's audiences failed")

    def affinity(
        self, st: Any, targets: np.ndarray, *, wait: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(affinity, best target score) of every customer of ``st``, shape (n_customers,) each.

        Rescores first what the state changed since the last call. Before the first
        fill is done: with ``wait=None`` the caller scores (or waits for) everything;
        with a ``wait`` in seconds, a fill runs in the background and, if it is not
        done within ``wait``, :class:`ScoresPending` is raised.

        Parameters
        ----------
        st
            The serving state.
        targets
            The target item codes, shape (n_targets,).
        wait
            Seconds to wait for a background fill, or None to score in the caller.

        Returns
        -------
        affinity, best : numpy.ndarray
            Each shape (n_customers,).
        """
        if wait is not None and not self.filled:
            filler = self.fill_in_background(st)
            if filler is not None:
                filler.join(wait)
            if not self.filled:
                raise self.pending()
        with self._lock:
            self._sync(st)
            best = best_target_score(self.scores[:, targets])
            return scaled_affinity(best, self.lo, self.hi), best

    def pending(self) -> ScoresPending:
        """How far the first fill is, and when to ask again (from its pace so far).

        Returns
        -------
        ScoresPending
            The error to raise, with the progress and a retry time.
        """
        if self.error is not None and not self.scoring:
            return ScoresPending(
                f"audience scores failed ({self.error}); computing them again", RETRY_AFTER[1]
            )
        done, total = self.done, max(self.total, 1)
        elapsed = time.monotonic() - self._started
        left = elapsed * (total - done) / done if done else 10.0
        retry = int(min(max(math.ceil(left), RETRY_AFTER[0]), RETRY_AFTER[1]))
        return ScoresPending(
            f"audience scores are being computed ({done:,} of {self.total:,} customers); "
            f"retry in {retry} s",
            retry,
        )

    def ranks(self, positions: np.ndarray, best: np.ndarray) -> np.ndarray:
        """:func:`models.audience.target_rank` of the customers at ``positions``, shape (n,).

        Parameters
        ----------
        positions
            Customer positions, shape (n,).
        best
            Their best target score, shape (n,).

        Returns
        -------
        numpy.ndarray
            Shape (n,), int64.
        """
        with self._lock:
            return target_rank(self.scores[np.asarray(positions, dtype=np.int64)], best)

    def _sync(self, st: Any) -> None:
        """Score what ``st`` changed since the last call (everything the first time)."""
        overrides, n = st.overrides, st.n_customers
        if self._synced is None:
            self._fill_all(st, n)
        elif overrides is not self._synced or n != len(self.lo):
            old = self._synced
            changed = [p for p, slot in overrides.items() if old.get(p) != slot]
            rows = np.union1d(np.asarray(changed, dtype=np.int64), np.arange(len(self.lo), n))
            if rows.size:
                self._store(rows, score_rows(st, self.model, rows), n)
        self._synced = overrides

    def _fill_all(self, st: Any, n: int) -> None:
        """Score every customer block by block into one matrix (kept only once complete)."""
        self.done, self.total, self._started = 0, n, time.monotonic()
        scores = np.empty((n, st.catalogue.n_items), order="F")
        lo, hi = np.full(n, np.nan), np.full(n, np.nan)
        for start in range(0, n, CHUNK):
            rows = np.arange(start, min(start + CHUNK, n))
            block = score_rows(st, self.model, rows)
            scores[rows] = block
            lo[rows], hi[rows] = score_ranges(block)
            self.done = int(rows[-1]) + 1
        self.scores, self.lo, self.hi = scores, lo, hi

    def _store(self, rows: np.ndarray, scores: np.ndarray, n: int) -> None:
        if n != len(self.lo):  # new customers: a larger matrix
            grown = np.empty((n, scores.shape[1]), order="F")
            grown[: len(self.lo)] = self.scores
            lo, hi = np.full(n, np.nan), np.full(n, np.nan)
            lo[: len(self.lo)], hi[: len(self.hi)] = self.lo, self.hi
            self.scores, self.lo, self.hi = grown, lo, hi
        self.scores[rows] = scores
        self.lo[rows], self.hi[rows] = score_ranges(scores)
