"""``/events``: check purchase lines, store them durably and apply them, off the event loop.

The checks (:func:`serving.event_checks.check_event_request`), the store's fsync
and the feature updates (:meth:`serving.live.Live.ingest`) run in worker
threads; lines that came back with a ``recommendation_id`` are recorded as
conversions in the recommendation log.
"""

from __future__ import annotations

import functools
import logging

import anyio.to_thread
from starlette.responses import JSONResponse

from kizuna.features.errors import KizunaInputError
from kizuna.serving.answers import error, field_error
from kizuna.serving.attribution import RecommendationLog
from kizuna.serving.config import Settings
from kizuna.serving.event_checks import EventLinesRefused, check_event_request
from kizuna.serving.live import Live
from kizuna.serving.schemas import EventsRequest, EventsResponse
from kizuna.serving.store_guard import StoreUnavailable

logger = logging.getLogger("bentoml.kizuna")


async def store_events(
    request: EventsRequest, live: Live, log: RecommendationLog, settings: Settings
) -> EventsResponse | JSONResponse:
    """Store ``request.events`` (1 to ``settings.max_events`` lines) and apply them at once.

    Parameters
    ----------
    request
        The ``/events`` request.
    live
        The service's live state.
    log
        The recommendation log (lines with a ``recommendation_id`` are conversions).
    settings
        The service settings.

    Returns
    -------
    EventsResponse or JSONResponse
        Lines stored, repeats, customers updated; 422 for a bad batch, 503 when
        the event store is unavailable.
    """
    if not 1 <= len(request.events) <= settings.max_events:
        return field_error(
            "body.events",
            f"must hold 1 to {settings.max_events:,} lines, got {len(request.events):,} "
            "(KIZUNA_MAX_EVENTS); split the batch",
        )
    try:
        check = functools.partial(check_event_request, max_value=settings.max_event_value)
        given, lines = await anyio.to_thread.run_sync(check, request.events)
    except EventLinesRefused as exc:  # each refused line's field path, as every 422
        return JSONResponse({"error": str(exc), "detail": exc.detail}, 422)
    except KizunaInputError as exc:
        return error(422, str(exc))
    try:
        result, updated = await anyio.to_thread.run_sync(live.ingest, lines)
    except StoreUnavailable as exc:
        return error(503, str(exc))
    if given["recommendation_id"].notna().any():  # purchases that came from an answer
        await anyio.to_thread.run_sync(log.record_conversions, given)
    if logger.isEnabledFor(logging.DEBUG):  # ids only, and only at debug level
        logger.debug(
            "stored %d event lines for customers %s",
            len(result.stored),
            sorted(set(result.stored["customer_id"].astype(str))),
        )
    served = live.served
    return EventsResponse(
        request_id=result.request_id,
        stored=len(result.stored),
        # repeats of stored lines + exact repeats within this request (kept once)
        duplicates=result.duplicates + len(request.events) - len(lines),
        customers_updated=updated,
        model_versions=served.versions if served else {},
    )
