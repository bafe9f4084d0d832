"""Folding stored ``/events`` lines into a served snapshot: each line once, in ``seq`` order.

The snapshot records the last ``seq`` it includes (``last_event_seq``); the
lines after it are validated as training validates them and applied. A store
that numbers below that seq (not the store the snapshot was built from) first
moves its numbering past it, so new lines are not taken as already applied.
"""

from __future__ import annotations

import logging
from typing import Any

from kizuna.features.validate import validate_transactions

logger = logging.getLogger("bentoml.kizuna")


def apply_stored_events(served: Any, store: Any) -> int:
    """Apply the stored lines the state has not seen (``seq > last_event_seq``) once.

    Returns the number of customers updated.
    """
    state = served.state
    _number_after_snapshot(store, state.last_event_seq)
    fresh = store.read(after=state.last_event_seq)
    if fresh is None or len(fresh) == 0:  # None: the store is unavailable (store_guard)
        return 0
    kept = validate_transactions(fresh.drop(columns=["seq"])).kept
    return len(state.apply_events(kept, last_seq=int(fresh["seq"].max())))


def _number_after_snapshot(store: Any, last_event_seq: int) -> None:
    """New lines of a store that numbers below the snapshot must still count as new."""
    from kizuna.serving.store_guard import StoreUnavailable

    try:
        if store.last_seq() >= last_event_seq:
            return
        old = store.number_after(last_event_seq)
    except StoreUnavailable:  # named by /readyz; checked again at the next catch-up
        return
    if old is not None:
        logger.warning(
            "event store %s numbers its lines up to %d, below the snapshot's last included "
            "event (%d): it is not the store the snapshot was built from; new lines are "
            "numbered from %d so that they are applied",
            getattr(store, "path", "?"),
            old,
            last_event_seq,
            last_event_seq + 1,
        )
