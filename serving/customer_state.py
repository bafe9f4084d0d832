"""What the service knows about customers: read from a snapshot, updated by events.

:class:`CustomerState` holds the snapshot's feature frame, each model's
inputs, the purchase histories and the catalogue. :meth:`CustomerState.apply_events`
folds new purchase lines in: it reads the customer's snapshot lines from the
memory-mapped transaction log, adds their event lines, and recomputes their
rows with the batch pipeline's own :func:`features.pipeline.customer_base_features` (scored with
the snapshot's RFM cut points).

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

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.interaction_weights import InteractionWeigher
from kizuna.features.interactions import build_interactions
from kizuna.features.pipeline import (
    behaviour_rfm_scorer,
    customer_base_features,
    with_rfm_scores,
)
from kizuna.features.rfm_scoring import RFMScorer
from kizuna.models.bundles import RecommenderBundle, TabularBundle
from kizuna.serving.catalogue import Catalogue
from kizuna.serving.model_inputs import (
    input_matrix,
    refresh_users_factors,
    set_rows,
    tabular_frame,
)
from kizuna.serving.transaction_log import (
    TransactionLog,
    canonical,
    clip_to,
    without_repeats,
)
from kizuna.serving.weighting import WEIGHTING_KEYS

REASON_CACHE_ROWS = 200_000


@dataclass
class CustomerState:
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

    # -- incremental update ----------------------------------------------------
    def apply_events(self, lines: pd.DataFrame, *, last_seq: int | None = None) -> list[str]:
        """Fold validated purchase lines into the state; return the customers updated.

        Parameters
        ----------
        lines
            Validated transactions (as :func:`serving.event_checks.check_events`
            returns), shape (n, k).
        last_seq
            Sequence number of the last line, remembered for catch-up.

        Returns
        -------
        list of str
            Ids of the customers updated.
        """
        if self.log is None:
            raise KizunaInputError("this state has no transaction log: it cannot take events")
        if len(lines) == 0:
            if last_seq is not None:
                self.last_event_seq = max(self.last_event_seq, last_seq)
            return []
        lines = canonical(lines)
        known = self._lines([str(c) for c in pd.unique(lines[s.CUSTOMER_ID])])
        # A line repeating one the state has is counted once, as the batch validator's
        # stored_rows rule does (a purchase posted live that the order log already has).
        lines = without_repeats(lines, known)
        if len(lines) == 0:
            if last_seq is not None:
                self.last_event_seq = max(self.last_event_seq, last_seq)
            return []
        lines = clip_to(lines, self.as_of)
        changed = [str(c) for c in pd.unique(lines[s.CUSTOMER_ID])]
        rows = pd.concat(
            [known[known[s.CUSTOMER_ID].isin(changed).to_numpy()], lines], ignore_index=True
        )
        before = self._events
        self._events = lines if before is None else pd.concat([before, lines], ignore_index=True)
        try:
            updated = self._refresh(changed, rows)
        except BaseException:
            self._events = before  # not applied: a retry must not count the lines twice
            raise
        self.events_applied += len(lines)
        if last_seq is not None:
            self.last_event_seq = max(self.last_event_seq, last_seq)
        return updated

    def customer_rows(self, customer_id: str) -> pd.DataFrame:
        """Every transaction line of one customer (snapshot and events).

        Parameters
        ----------
        customer_id
            The customer's id.

        Returns
        -------
        pandas.DataFrame
            The customer's lines, shape (n, k).
        """
        return self._lines([customer_id])

    def customers_lines(
        self, customer_ids: list[str], columns: list[str] | None = None
    ) -> pd.DataFrame:
        """Every transaction line of several customers (snapshot and events), one read.

        ``columns``: only these (those the lines have), which reads less.

        Parameters
        ----------
        customer_ids
            Customer ids.
        columns
            Only these columns, or None for all.

        Returns
        -------
        pandas.DataFrame
            The customers' lines, shape (n, k).
        """
        return self._lines(customer_ids, columns)

    def _lines(self, customers: list[str], columns: list[str] | None = None) -> pd.DataFrame:
        """Snapshot lines (one read of the mapped log) plus event lines of ``customers``."""
        base = self.log.lines(customers, columns) if self.log is not None else None
        parts = [base] if base is not None else []
        if self._events is not None:
            events = self._events[self._events[s.CUSTOMER_ID].isin(customers).to_numpy()]
            if columns is not None:
                events = events[[c for c in columns if c in events.columns]]
            parts.append(events)
        parts = [p for p in parts if len(p)]
        if not parts:
            return base if base is not None else pd.DataFrame(columns=[s.CUSTOMER_ID])
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def _refresh(self, customers: list[str], rows: pd.DataFrame) -> list[str]:
        """Recompute every derived row of ``customers`` from ``rows``, all their lines."""
        unit = next((b.btyd_unit for b in self.bundles.values()), "W")
        feats = customer_base_features(
            rows, self.as_of, customers=self.customers, items=self.items, btyd_unit=unit
        )
        # Customers with returns only have nothing to score yet.
        feats = feats.loc[[c for c in customers if c in feats.index]]
        if feats.empty:
            return []
        # The snapshot population's quintile cut points, never ones of these few rows.
        feats = with_rfm_scores(feats, self.rfm_scorer)
        ids = [str(c) for c in feats.index]
        behavioural = {k: b for k, b in self.bundles.items() if b.mode != "contractual"}
        inputs = {kind: tabular_frame(feats, bundle) for kind, bundle in behavioural.items()}
        matrix_rows = {
            kind: input_matrix(bundle, inputs[kind]) for kind, bundle in behavioural.items()
        }
        pos = self.positions(ids)
        old, new = np.flatnonzero(pos >= 0), np.flatnonzero(pos < 0)
        set_rows(self.features, pos[old], feats.iloc[old])
        for kind in behavioural:
            set_rows(self.frames[kind], pos[old], inputs[kind].iloc[old])
            if self.matrices.get(kind) is not None:
                self.matrices[kind][pos[old]] = matrix_rows[kind][old]
        if new.size:
            # Containers are replaced, not grown in place: readers hold the old ones.
            self.features = pd.concat([self.features, feats.iloc[new]])
            for kind in behavioural:
                self.frames[kind] = pd.concat([self.frames[kind], inputs[kind].iloc[new]])
                if self.matrices.get(kind) is not None:
                    self.matrices[kind] = np.vstack([self.matrices[kind], matrix_rows[kind][new]])
            empty = sp.csr_matrix((new.size, self.history.shape[1]), dtype=self.history.dtype)
            self.history = sp.vstack([self.history, empty], format="csr")
            self._buyers = None
            pos = self.positions(ids)
        for cache in self._row_cache.values():
            for p in pos:
                cache.pop(int(p), None)
        history = self._interaction_rows(ids, rows)
        # Replaced, not changed in place: a reader holds the old pair.
        offset = self.patch.shape[0]
        overrides = dict(self.overrides)
        overrides.update(zip((int(p) for p in pos), range(offset, offset + len(ids)), strict=True))
        self.patch = sp.vstack([self.patch, history.astype(self.patch.dtype)], format="csr")
        self.overrides = overrides
        if self.recommender is not None:
            codes = self.recommender.user_ids.get_indexer(ids)
            refresh_users_factors(self.recommender.model, codes, history)
        return ids

    def _interaction_rows(self, customers: list[str], rows: pd.DataFrame) -> sp.csr_matrix:
        params = {k: v for k, v in self.interaction_params.items() if k not in WEIGHTING_KEYS}
        counts = build_interactions(
            rows,
            self.as_of,
            weighting="count",
            user_ids=customers,
            item_ids=self.catalogue.item_ids,
            **params,
        ).matrix
        return self.weigher.transform(counts)
