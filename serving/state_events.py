"""The event side of :class:`serving.customer_state.CustomerState`: new purchase lines.

:class:`StateEvents` is mixed into ``CustomerState`` and works on its fields.
:meth:`StateEvents.apply_events` folds validated purchase lines in: it reads the
customers' snapshot lines from the memory-mapped transaction log, adds their
event lines, and recomputes their rows with the batch pipeline's own
:func:`features.pipeline.customer_base_features` (scored with the snapshot's RFM
cut points); the lines of a customer are read back with
:meth:`StateEvents.customer_rows`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import build_interactions
from kizuna.features.pipeline import customer_base_features, with_rfm_scores
from kizuna.serving.model_inputs import (
    input_matrix,
    refresh_users_factors,
    set_rows,
    tabular_frame,
)
from kizuna.serving.transaction_log import canonical, clip_to, without_repeats
from kizuna.serving.weighting import WEIGHTING_KEYS


class StateEvents:
    """Folding purchase events into a customer state, and reading its lines back.

    A mixin of :class:`serving.customer_state.CustomerState`: it uses that
    class's fields (``log``, ``features``, ``frames``, ``matrices``, ``history``,
    ``patch``, ``overrides``, the bundles) and keeps the event lines applied
    since the snapshot in ``_events``.
    """

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
