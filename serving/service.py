"""kizuna's BentoML service: recommendations, churn, value and profiles over HTTP.

Start it with ``kizuna serve`` or ``bentoml serve kizuna.serving.service:KizunaService``
(settings: :mod:`serving.config`). The endpoints are thin: they take the
current snapshot (:class:`serving.live.Live`) and call a pure function in
:mod:`serving.recommendations`, :mod:`serving.scoring`, :mod:`serving.audience`
or :class:`serving.offer_answers.OfferDesk`; :mod:`serving.answers` turns
refusals into JSON errors. Models load in the background at start-up;
``/readyz`` turns green when they and the customer state (and a CSV contact
log) are in memory; until the models are, the endpoints answer 503. Each body
is parsed and validated once, by :mod:`serving.validation`, which hands the
request model to the endpoint.

The endpoints are ``async`` and score small requests on the event loop
itself: a one-customer answer takes about a millisecond, and handing it to a
worker thread cost several more (a GIL hand-off per request). Large batches,
audiences, event checks and writes (an fsync), contact-log reads and writes,
catch-up on other processes' events and reloads go to threads, so the loop
stays free.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import bentoml
from starlette.responses import JSONResponse

from kizuna.features.errors import KizunaInputError
from kizuna.serving import recommendations, scoring
from kizuna.serving.answers import answer, current, error, log_shown, not_ready
from kizuna.serving.attribution import RecommendationLog, store_path
from kizuna.serving.audience import AudienceError, audience_response
from kizuna.serving.audience_scores import audience_status
from kizuna.serving.audience_scores import warm as warm_audiences
from kizuna.serving.config import Settings
from kizuna.serving.event_checks import check_event_request
from kizuna.serving.event_store import EventStore
from kizuna.serving.live import Live, ReloadOutcome
from kizuna.serving.middleware import KizunaGuards
from kizuna.serving.offer_answers import OfferDesk
from kizuna.serving.openapi import DocumentedErrors
from kizuna.serving.probes import Probes
from kizuna.serving.report_app import ReportApp
from kizuna.serving.runtime import patch_server, tune_worker
from kizuna.serving.schemas import (
    AudienceRequest,
    AudienceResponse,
    ChurnRequest,
    ChurnResponse,
    CustomerProfile,
    CustomerRequest,
    EventsRequest,
    EventsResponse,
    LTVRequest,
    LTVResponse,
    NextBestOfferRequest,
    NextBestOfferResponse,
    RecommendRequest,
    RecommendResponse,
    ReloadResponse,
    SimilarItemsRequest,
    SimilarItemsResponse,
    StatusResponse,
)
from kizuna.serving.store_guard import GuardedStore, StoreUnavailable

# A child of bentoml's logger, so its records go through the server's log configuration.
logger = logging.getLogger("bentoml.kizuna")
#: Batches up to this many ids are scored on the event loop; larger ones in a thread.
INLINE_BATCH = 100


# BentoML's request timeout keeps a timer (and the request's context) alive for the
# whole timeout even after the answer, so a long one fills the heap at high rates
# and slows garbage collection; BentoML's default of 60 s is kept.
@bentoml.service(name="kizuna", workers=1, traffic={"timeout": 60})
class KizunaService:
    """Champion models from the MLflow registry (or a folder), with live customer state."""

    def __init__(self) -> None:
        tune_worker()
        self.settings = settings = Settings.from_env()
        # Opened lazily: a bad path or a full disk is a 503 and a /readyz reason, not a
        # worker that dies before it answers /livez.
        path = settings.event_store
        self.store = GuardedStore(lambda: EventStore(path), path)
        self.live = Live(
            settings.model_source,
            alias=settings.model_alias,
            store=self.store,
            experiment=settings.experiment,
        )
        self.recommendation_log = RecommendationLog(store_path(settings.contact_log))
        self.offers = OfferDesk(settings)
        self._batch_limiter: anyio.CapacityLimiter | None = None
        self._contacts_read = threading.Event()
        threading.Thread(target=self._load, name="kizuna-load", daemon=True).start()
        threading.Thread(target=self._warm_contacts, name="kizuna-contacts", daemon=True).start()
        if settings.reload_poll_seconds > 0:
            threading.Thread(target=self._poll, name="kizuna-poll", daemon=True).start()

    def __is_ready__(self) -> bool:
        return self.readiness()[0]

    def readiness(self) -> tuple[bool, str | None, dict[str, str]]:
        """(ready, why not, degraded model kinds -> cause), for ``/readyz``."""
        ready, reason, degraded = self.live.readiness()
        fault = self.store.check()
        if fault is not None:
            reasons = [f"event store unavailable: {fault}", *([reason] if reason else [])]
            return False, "; ".join(reasons), degraded
        if not self._contacts_read.is_set():  # a large CSV log takes a few seconds
            reasons = [*([reason] if reason else []), "reading the contact log into memory"]
            return False, "; ".join(reasons), degraded
        return ready, reason, degraded

    # -- endpoints -------------------------------------------------------------------
    @bentoml.api
    async def recommend(self, request: RecommendRequest, /) -> RecommendResponse:
        """Top-k items for a customer, each with a score and a short reason."""
        out = await self._answer(recommendations.recommend, request)
        return log_shown(self.recommendation_log, "recommend", out, customer_id=request.customer_id)

    @bentoml.api
    async def similar_items(self, request: SimilarItemsRequest, /) -> SimilarItemsResponse:
        """Items bought together with an item."""
        out = await self._answer(recommendations.similar_items, request)
        return log_shown(self.recommendation_log, "similar_items", out, anchor_item=request.item_id)

    @bentoml.api
    async def churn_score(self, request: ChurnRequest, /) -> ChurnResponse:
        """Calibrated churn probability, risk band and top reasons per customer."""
        return await self._answer_batch(
            scoring.churn_scores,
            request,
            max_batch=self.settings.max_batch,
            bands=self.settings.risk_bands,
        )

    @bentoml.api
    async def ltv(self, request: LTVRequest, /) -> LTVResponse:
        """Predicted value over the horizon, P(alive) and expected orders per customer."""
        return await self._answer_batch(
            scoring.ltv_scores, request, max_batch=self.settings.max_batch
        )

    @bentoml.api
    async def customer(self, request: CustomerRequest, /) -> CustomerProfile:
        """A customer's RFM values, scores, segment and every model score."""
        bands = self.settings.risk_bands
        return await self._answer(scoring.customer_profile, request, bands=bands)

    @bentoml.api
    async def next_best_offer(self, request: NextBestOfferRequest, /) -> NextBestOfferResponse:
        """The offer worth most for this customer now (or none), with its expected value."""
        out = await self.offers.decide(await current(self.live), self.live, request)
        if isinstance(out, JSONResponse):
            return out
        return log_shown(
            self.recommendation_log,
            "next_best_offer",
            out,
            customer_id=request.customer_id,
            offer_id=out.decisions[0].offer_id if out.decisions else None,
            grp=out.group,
            campaign_id=request.campaign_id,
            channel=request.channel,
        )

    @bentoml.api
    async def events(self, request: EventsRequest, /) -> EventsResponse:
        """Store new purchase lines durably; they take effect at once."""
        if not 1 <= len(request.events) <= self.settings.max_events:
            return error(
                422,
                f"events must hold 1 to {self.settings.max_events:,} lines, got "
                f"{len(request.events):,} (KIZUNA_MAX_EVENTS); split the batch",
            )
        # The checks, the fsync and the feature updates run off the event loop.
        try:
            check = functools.partial(check_event_request, max_value=self.settings.max_event_value)
            given, lines = await anyio.to_thread.run_sync(check, request.events)
        except KizunaInputError as exc:
            return error(422, str(exc))
        try:
            result, updated = await anyio.to_thread.run_sync(self.live.ingest, lines)
        except StoreUnavailable as exc:
            return error(503, str(exc))
        if given["recommendation_id"].notna().any():  # purchases that came from an answer
            await anyio.to_thread.run_sync(self.recommendation_log.record_conversions, given)
        if logger.isEnabledFor(logging.DEBUG):  # ids only, and only at debug level
            logger.debug(
                "stored %d event lines for customers %s",
                len(result.stored),
                sorted(set(result.stored["customer_id"].astype(str))),
            )
        served = self.live.served
        return EventsResponse(
            request_id=result.request_id,
            stored=len(result.stored),
            # repeats of stored lines + exact repeats within this request (kept once)
            duplicates=result.duplicates + len(request.events) - len(lines),
            customers_updated=updated,
            model_versions=served.versions if served else {},
        )

    @bentoml.api
    async def audience(self, request: AudienceRequest, /) -> AudienceResponse:
        """Customers most likely to buy an item or a category soon, with scores and reasons."""
        served = await current(self.live)
        if served is None:
            return not_ready(self.live)
        call = functools.partial(
            audience_response,
            served,
            request,
            max_kept_bytes=self.settings.audience_cache_bytes,
            wait=self.settings.audience_wait_seconds,
        )
        try:
            return await anyio.to_thread.run_sync(call)
        except AudienceError as exc:
            return error(exc.status, exc.message, retry_after=exc.retry_after)

    @bentoml.api
    async def reload(self) -> ReloadResponse:
        """Load the models the aliases point to now and swap them in atomically.

        A failed reload answers 503 (409 while another reload runs) naming the
        model kind, version and cause; the previous models keep serving.
        """
        outcome = await anyio.to_thread.run_sync(self.live.load)
        self._loaded(outcome)
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

    @bentoml.api
    async def status(self) -> StatusResponse:
        """What is loaded: versions, data as-of, sizes, the last reload error."""
        served = self.live.served
        base = {
            "ready": served is not None,
            "model_source": self.settings.model_source,
            "last_reload_error": self.live.last_error,
            "degraded": dict(self.live.degraded),
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
                "audience_scores": audience_status(served, self.settings.audience_cache_bytes),
            },
            **base,
        )

    # -- plumbing --------------------------------------------------------------------
    async def _answer(self, fn: Callable[..., Any], request: Any, **kwargs: Any) -> Any:
        """``fn(served, request)`` on the current snapshot, on the event loop."""
        return answer(await current(self.live), self.live, fn, request, **kwargs)

    async def _answer_batch(self, fn: Callable[..., Any], request: Any, **kwargs: Any) -> Any:
        """As :meth:`_answer`; more than ``INLINE_BATCH`` ids are scored in a thread."""
        served = await current(self.live)
        if len(request.customer_ids) <= INLINE_BATCH:
            return answer(served, self.live, fn, request, **kwargs)
        # One batch thread: concurrent batches queue instead of fighting over the GIL.
        if self._batch_limiter is None:
            self._batch_limiter = anyio.CapacityLimiter(1)
        call = functools.partial(answer, served, self.live, fn, request, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._batch_limiter)

    def _load(self) -> None:
        self._loaded(self.live.load())

    def _warm_contacts(self) -> None:
        """A CSV contact log into memory before /readyz turns green, not on the first offer."""
        try:
            self.offers.contacts.warm()
        except Exception as exc:  # noqa: BLE001 - the first offer request reads it, or says why
            logger.warning("reading the contact log %s failed: %s", self.settings.contact_log, exc)
        finally:
            self._contacts_read.set()

    def _poll(self) -> None:
        while True:
            time.sleep(self.settings.reload_poll_seconds)
            try:
                if self.live.upstream_changed():
                    self._loaded(self.live.load())
            except Exception:  # noqa: BLE001 - polling must never stop the service
                logger.exception("checking for new champion versions failed")

    def _loaded(self, outcome: ReloadOutcome) -> None:
        """Log a load; after a new snapshot, score its audiences in the background."""
        if not outcome.reloaded:
            logger.error("%s %s", outcome.message, outcome.error or "")
            return
        logger.info("%s: %s", outcome.message, outcome.versions)
        served = self.live.served
        if served is not None:  # in a thread of its own; /status shows how far it is
            warm_audiences(served, self.settings.audience_cache_bytes)


# Registered here, built (and settings read) when a worker builds its app. Outermost
# first: probes, then CORS, the API key, limits, validation, then the OpenAPI document.
KizunaService.add_asgi_middleware(Probes)
KizunaService.add_asgi_middleware(KizunaGuards)
KizunaService.add_asgi_middleware(DocumentedErrors)
KizunaService.mount_asgi_app(ReportApp(), path="/report")  # KIZUNA_REPORT, read when asked
patch_server(KizunaService.apis, ["/report"])
