"""How the service's endpoints answer: JSON errors, the current snapshot, the shown-items log.

The endpoints in :mod:`serving.service` stay a few lines each by calling these:

- :func:`error` and :func:`field_error`: a refusal as JSON, in the shape of
  :mod:`serving.validation`'s answers;
- :func:`current`: the snapshot to answer from, after folding in events other
  processes stored (in a worker thread, so the event loop never waits on the
  event store);
- :func:`answer`: call a pure scoring function on a snapshot and turn its
  refusals (:class:`serving.scoring.ServingError`, :class:`KizunaInputError`)
  into 4xx/503 answers;
- :func:`log_shown`: give an answer its ``recommendation_id`` and queue what it showed;
- :func:`answer_audience`: ``/audience`` in a worker thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.responses import JSONResponse

from kizuna.features.errors import KizunaInputError
from kizuna.serving.attribution import RecommendationLog, new_id, version_label
from kizuna.serving.config import Settings
from kizuna.serving.live import Live, Served
from kizuna.serving.scoring import ServingError


def error(status: int, message: str, *, retry_after: int | None = None) -> JSONResponse:
    """``{"error": message}`` with ``status`` (and a ``Retry-After`` header in seconds).

    Parameters
    ----------
    status
        The HTTP status.
    message
        What went wrong, for the client.
    retry_after
        Seconds the client should wait, or None.

    Returns
    -------
    starlette.responses.JSONResponse
    """
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def field_error(loc: str, message: str) -> JSONResponse:
    """422 in the shape of :mod:`serving.validation`'s answers, for a value the models refuse.

    Parameters
    ----------
    loc
        The field path, e.g. ``body.customer_id``.
    message
        What is wrong with it.

    Returns
    -------
    starlette.responses.JSONResponse
        Status 422.
    """
    detail = [{"loc": loc, "msg": message, "type": "value_error"}]
    return JSONResponse({"error": f"1 invalid field: {loc}: {message}", "detail": detail}, 422)


def not_ready(live: Live) -> JSONResponse:
    """503 naming why no snapshot can answer yet.

    Parameters
    ----------
    live
        The service's live state.

    Returns
    -------
    starlette.responses.JSONResponse
        Status 503.
    """
    return error(503, live.not_ready_reason() or "models are not loaded yet")


async def current(live: Live) -> Served | None:
    """The snapshot to answer from, with events other processes stored folded in.

    The check is one cheap look at the store; the catch-up itself (a read of
    the store and the changed customers' features) runs in a worker thread.

    Parameters
    ----------
    live
        The service's live state.

    Returns
    -------
    Served or None
        None when no snapshot is loaded.
    """
    if live.served is not None and live.needs_catch_up():
        await anyio.to_thread.run_sync(live.catch_up)
    return live.served


def answer(
    served: Served | None, live: Live, fn: Callable[..., Any], request: Any, **kw: Any
) -> Any:
    """``fn(served, request, **kw)``; refusals become JSON errors, no snapshot a 503.

    Parameters
    ----------
    served
        The snapshot to answer from, or None.
    live
        The service's live state.
    fn
        The answering function.
    request
        The validated request.
    **kw
        Passed on to ``fn``.

    Returns
    -------
    Any
        ``fn``'s answer, or a JSON error response.
    """
    if served is None:
        return not_ready(live)
    try:
        return fn(served, request, **kw)
    except ServingError as exc:
        if exc.loc is not None:
            return field_error(exc.loc, exc.message)
        cause = live.degraded.get(exc.kind) if exc.kind is not None else None
        if cause:  # the cause /readyz gives, with the command that fixes it
            return error(exc.status, f"{exc.message}: {cause}")
        return error(exc.status, exc.message)
    except KizunaInputError as exc:
        return error(422, str(exc))


def log_shown(log: RecommendationLog, placement: str, answer: Any, **fields: Any) -> Any:
    """Give an answer its recommendation_id and queue what it showed (a thread commits it).

    Parameters
    ----------
    log
        The recommendation log.
    placement
        Where the answer is shown (the endpoint).
    answer
        The response.
    **fields
        More fields to log.

    Returns
    -------
    Any
        ``answer`` with its ``recommendation_id`` set.
    """
    if isinstance(answer, JSONResponse):
        return answer
    answer.recommendation_id = new_id()
    offers = placement == "next_best_offer"
    kinds = ("churn", "ltv", "recommender") if offers else ("recommender",)
    shown = [d.offer_id for d in answer.decisions] if offers else [i.item_id for i in answer.items]
    log.submit(
        {
            "recommendation_id": answer.recommendation_id,
            "placement": placement,
            "model_version": version_label(answer.model_versions, kinds),
            "items": shown,
            **fields,
        }
    )
    return answer


async def answer_audience(live: Live, request: Any, settings: Settings) -> Any:
    """``/audience`` on the current snapshot, in a worker thread; refusals as JSON errors.

    Parameters
    ----------
    live
        The service's live state.
    request
        The ``/audience`` request.
    settings
        The service settings.

    Returns
    -------
    Any
        The ``/audience`` response, or a JSON error response.
    """
    # Imported here: the audience code stays out of modules that only need the helpers above.
    from kizuna.serving.audience import AudienceError, audience_response

    served = await current(live)
    if served is None:
        return not_ready(live)
    call = functools.partial(
        audience_response,
        served,
        request,
        max_kept_bytes=settings.audience_cache_bytes,
        wait=settings.audience_wait_seconds,
    )
    try:
        return await anyio.to_thread.run_sync(call)
    except AudienceError as exc:
        if exc.loc is not None:
            return field_error(exc.loc, exc.message)
        return error(exc.status, exc.message, retry_after=exc.retry_after)
