"""The kept audience scores of a loaded snapshot: made on first use, warmed, reported.

:func:`kept_scores` gives the snapshot's :class:`serving.audience_scores.AudienceScores`
(None when they would exceed ``KIZUNA_AUDIENCE_CACHE_BYTES``); the service starts
filling them after each load (:func:`warm`) and ``/status`` shows how far that is
(:func:`audience_status`).
"""

from __future__ import annotations

import threading
from typing import Any

from kizuna.serving.audience_scores import AudienceScores


def kept_scores(served: Any, max_bytes: int) -> AudienceScores | None:
    """The snapshot's kept scores (made empty on first use); None if over ``max_bytes``.

    Parameters
    ----------
    served
        The loaded snapshot.
    max_bytes
        The memory budget of the kept scores.

    Returns
    -------
    AudienceScores or None
    """
    st, rec = served.state, served.models.recommender
    if rec is None or not AudienceScores.fits(st, max_bytes):
        return None
    return st.extras.setdefault("audience_scores", AudienceScores(rec.model))


def warm(served: Any, max_bytes: int) -> threading.Thread | None:
    """Start scoring every customer of a freshly loaded snapshot, so no request waits for it.

    Returns the scoring thread (None when nothing is kept); a failure is logged, never raised.

    Parameters
    ----------
    served
        The freshly loaded snapshot.
    max_bytes
        The memory budget of the kept scores.

    Returns
    -------
    threading.Thread or None
    """
    kept = kept_scores(served, max_bytes)
    return None if kept is None else kept.fill_in_background(served.state)


def audience_status(served: Any, max_bytes: int) -> dict[str, Any]:
    """For ``/status``: ``state`` (``ready``, ``scoring``, ``failed``, ``not started``,
    ``per request`` when over ``max_bytes``, ``no recommender``) and the customers scored.

    Parameters
    ----------
    served
        The loaded snapshot.
    max_bytes
        The memory budget of the kept scores.

    Returns
    -------
    dict
        ``state`` and the counts of customers scored.
    """
    st = served.state
    if served.models.recommender is None:
        return {"state": "no recommender"}
    if not AudienceScores.fits(st, max_bytes):
        return {"state": "per request", "max_bytes": max_bytes}
    kept = st.extras.get("audience_scores")
    if kept is None:
        return {"state": "not started", "customers": st.n_customers}
    if kept.filled:
        return {"state": "ready", "customers": st.n_customers, "scored": len(kept.lo)}
    if not kept.scoring and kept.error is not None:
        return {"state": "failed", "error": kept.error}
    state = "scoring" if kept.scoring else "not started"
    return {"state": state, "customers": kept.total or st.n_customers, "scored": kept.done}
