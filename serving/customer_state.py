"""What the service knows about customers: read from a snapshot, updated by events.

:class:`CustomerState` holds the snapshot's feature frame, each model's
inputs, the purchase histories and the catalogue. :meth:`CustomerState.apply_events`
(from :class:`serving.state_events.StateEvents`) folds new purchase lines in: it
reads the customer's snapshot lines from the memory-mapped transaction log, adds
their event lines, and recomputes their rows with the batch pipeline's own
:func:`features.pipeline.customer_base_features` (scored with the snapshot's RFM
cut points).

The service's clock is the state's ``as_of``: a purchase stamped at or after it
counts as made just before it (recency 0), so every customer is scored at the
same instant; a new snapshot moves ``as_of`` forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features.interaction_weights import InteractionWeigher
from kizuna.features.pipeline import behaviour_rfm_scorer
from kizuna.features.rfm_scoring import RFMScorer
from kizuna.models.bundles import RecommenderBundle, TabularBundle
from kizuna.serving.catalogue import Catalogue
from kizuna.serving.state_events import StateEvents
from kizuna.serving.transaction_log import TransactionLog

REASON_CACHE_ROWS = 200_000


@dataclass
class CustomerState(StateEvents):
    """Per-customer features, model inputs and purchase history, plus the catalogue.

    Attributes
    ----------
    as_of
        Instant the features describe (the day after the snapshot's last line).
    features
        ``customer_features`` frame, shape (n_customers, p), indexed by id (text).
    frames
        Per tabular model kind (``churn``, ``ltv``): the inputs of that model,
        rows aligned with ``features`` (contractual churn: the customers table).
    matrices
        The same inputs as the booster reads them (``transform_matrix``),
        float64 (n, p), made once so a request only indexes rows; None for a
        model without a LightGBM preprocessor.
    history
        Weighted interaction rows over the catalogue's items, shape
        (n_customers, n_items), aligned with ``features``; rows changed by
        events live in ``patch`` (``overrides`` maps position -> patch row).
    log
        The snapshot's transaction lines (memory-mapped); a state without
        one cannot take events.
    rfm_scorer
        The RFM quintile cut points of the snapshot's population (fitted
        when the snapshot was written); changed customers are scored with it.
    """

    as_of: pd.Timestamp
    features: pd.DataFrame
    frames: dict[str, pd.DataFrame]
    matrices: dict[str, np.ndarray | None]
    catalogue: Catalogue
    history: sp.csr_matrix
    preferences: dict[str, list[str]]
    bundles: dict[str, TabularBundle]
    recommender: RecommenderBundle | None
    interaction_params: dict[str, Any]
    weigher: InteractionWeigher
    log: TransactionLog | None = None
    customers: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    last_event_seq: int = 0
    events_applied: int = 0
    overrides: dict[int, int] = field(default_factory=dict)
    cold_start: Any = None
    rfm_scorer: RFMScorer | None = None
    live: bool = True
    #: Data derived from the state and kept with it, by name (e.g. ``serving.audience_scores``).
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._events: pd.DataFrame | None = None  # event lines applied since the snapshot
        self.patch = sp.csr_matrix((0, self.history.shape[1]), dtype=self.history.dtype)
        if self.rfm_scorer is None:
            self.rfm_scorer = behaviour_rfm_scorer().fit(self.features)
        self._buyers: sp.csc_matrix | None = None
        self._row_cache: dict[tuple[Any, ...], dict[int, Any]] = {}

    # -- lookups -----------------------------------------------------------------
    @property
    def n_customers(self) -> int:
        return len(self.features)

    def positions(self, customer_ids: list[str]) -> np.ndarray:
        """Row of each customer, shape (n,) int64; -1 for customers without history.

        Parameters
        ----------
        customer_ids
            Customer ids, n of them.

        Returns
        -------
        numpy.ndarray
            Shape (n,), int64.
        """
        return self.features.index.get_indexer(customer_ids).astype(np.int64, copy=False)

    def position(self, customer_id: str) -> int:
        try:
            pos = self.features.index.get_loc(customer_id)
        except KeyError:
            return -1
        return int(pos) if isinstance(pos, int | np.integer) else -1

    def recommender_code(self, customer_id: str) -> int:
        """The customer's row in the recommender's training matrix; -1 if it never saw them.

        Parameters
        ----------
        customer_id
            The customer's id.

        Returns
        -------
        int
        """
        if self.recommender is None:
            return -1
        try:
            code = self.recommender.user_ids.get_loc(customer_id)
        except KeyError:
            return -1
        return int(code) if isinstance(code, int | np.integer) else -1

    def history_rows(self, positions: np.ndarray) -> sp.csr_matrix:
        """Interaction rows of customers at ``positions`` (>= 0), shape (n, n_items).

        Parameters
        ----------
        positions
            Customer positions in the state, shape (n,), all >= 0.

        Returns
        -------
        scipy.sparse.csr_matrix
            Shape (n, n_items).
        """
        positions = np.asarray(positions, dtype=np.int64)
        overrides, patch = self.overrides, self.patch
        if not overrides:
            return self.history[positions]
        slot = np.fromiter((overrides.get(int(p), -1) for p in positions), np.int64, len(positions))
        changed = slot >= 0
        if not changed.any():
            return self.history[positions]
        stacked = sp.vstack([self.history[positions[~changed]], patch[slot[changed]]], format="csr")
        order = np.empty(len(positions), dtype=np.int64)
        n_base = int((~changed).sum())
        order[~changed] = np.arange(n_base)
        order[changed] = n_base + np.arange(int(changed.sum()))
        return stacked[order]

    def cached_rows(self, key: tuple[Any, ...], rows: np.ndarray, compute: Any) -> list[Any]:
        """Per-customer results that only change with the customer's features, cached.

        Reason codes cost far more than the score (TreeSHAP contributions and
        their phrasing, about a millisecond a customer), and a customer's only
        change when an event or a reload changes their features; so each
        (``key``, row) is computed once, by ``compute(rows) -> list`` for the
        rows missing, and kept until then. At most ``REASON_CACHE_ROWS`` rows
        per key are kept (then the cache starts over).

        Parameters
        ----------
        key
            What is computed (e.g. the model kind and ``top_n``).
        rows
            Customer rows, shape (n,).
        compute
            ``compute(rows) -> list``, one result per row asked.

        Returns
        -------
        list
            One result per row of ``rows``.
        """
        cache = self._row_cache.setdefault(key, {})
        wanted = [int(r) for r in rows]
        missing = [r for r in dict.fromkeys(wanted) if r not in cache]
        if missing:
            if len(cache) + len(missing) > REASON_CACHE_ROWS:
                cache.clear()
            cache.update(zip(missing, compute(np.array(missing, dtype=np.int64)), strict=True))
        return [cache[r] for r in wanted]

    def buyers(self) -> sp.csc_matrix:
        """Binary customers x items purchase matrix (column access), built on first use.

        Returns
        -------
        scipy.sparse.csc_matrix
            Shape (n_customers, n_items), binary.
        """
        if self._buyers is None:
            binary = self.history.copy()
            binary.data = np.ones_like(binary.data)
            self._buyers = binary.tocsc()
        return self._buyers
