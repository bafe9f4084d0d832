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

    Parameters
    ----------
    served
        The loaded snapshot, updated in place.
    store
        The event store.

    Returns
    -------
    int
        Customers updated.
    """
    state = served.state
    _number_after_snapshot(store, state.last_event_seq)
    fresh = store.read(after=state.last_event_seq)
    if fresh is None:  # the store is unavailable (store_guard)
        return 0
    _warn_of_purged_lines(store, fresh, state.last_event_seq)
    if len(fresh) == 0:
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


def _warn_of_purged_lines(store: Any, fresh: Any, last_event_seq: int) -> None:
    """Say when lines after the snapshot were purged: they are in neither the snapshot nor the
    store (``kizuna events purge``, then an older snapshot promoted), so those purchases are
    missing until a snapshot is built from an export that has them.

    Numbers are never reused and a rolled-back write takes none, so the store's lines after
    the snapshot start at ``last_event_seq + 1`` unless some were deleted.
    """
    from kizuna.serving.store_guard import StoreUnavailable

    try:
        first = int(fresh["seq"].min()) if len(fresh) else store.last_seq() + 1
    except StoreUnavailable:
        return
    if first > last_event_seq + 1:
        logger.warning(
            "event store %s no longer holds lines %d to %d, which the snapshot (up to %d) does "
            "not include: they were purged, and those purchases are missing until `kizuna "
            "snapshot` rebuilds from an export that has them",
            getattr(store, "path", "?"),
            last_event_seq + 1,
            first - 1,
            last_event_seq,
        )
