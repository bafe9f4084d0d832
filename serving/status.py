"""The answers of ``/status`` and ``/reload``: what is loaded, and how a reload went."""

from __future__ import annotations

from starlette.responses import JSONResponse

from kizuna.serving.audience_cache import audience_status
from kizuna.serving.config import Settings
from kizuna.serving.live import Live, ReloadOutcome
from kizuna.serving.schemas import ReloadResponse, StatusResponse


def status_response(
    live: Live, settings: Settings, readiness: tuple[bool, str | None, dict[str, str]]
) -> StatusResponse:
    """Versions, data as-of, sizes, the last reload error and how far the audiences are scored.

    ``readiness`` is what ``/readyz`` reports (ready, why not, degraded kinds): both agree.

    Parameters
    ----------
    live
        The service's live state.
    settings
        The service settings.
    readiness
        What ``/readyz`` reports.

    Returns
    -------
    StatusResponse
    """
    served = live.served
    ready, _, degraded = readiness
    base = {
        "ready": ready,
        "model_source": settings.model_source,
        "last_reload_error": live.last_error,
        "degraded": dict(degraded),
    }
    if served is None:
        return StatusResponse(model_versions={}, **base)
    st = served.state
    return StatusResponse(
        model_versions=served.versions,
        as_of=st.as_of.to_pydatetime(),
        customers=st.n_customers,
        items=st.catalogue.n_items,
        events_applied=st.events_applied,
        loaded_at=served.loaded_at.to_pydatetime(),
        details={
            "event_seq": st.last_event_seq,
            "audience_scores": audience_status(served, settings.audience_cache_bytes),
        },
        **base,
    )


def reload_response(outcome: ReloadOutcome) -> ReloadResponse | JSONResponse:
    """200 with the new versions; 409 while another reload runs, else 503 naming the cause.

    Parameters
    ----------
    outcome
        What the reload did.

    Returns
    -------
    ReloadResponse or JSONResponse
    """
    answer = ReloadResponse(
        reloaded=outcome.reloaded,
        message=outcome.message,
        model_versions=outcome.versions,
        previous_versions=outcome.previous_versions,
        error=outcome.error,
    )
    if outcome.reloaded:
        return answer
    status = 409 if outcome.busy else 503
    text = f"{outcome.message}: {outcome.error}" if outcome.error else outcome.message
    return JSONResponse({"error": text, **answer.model_dump()}, status_code=status)
