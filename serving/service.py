"""kizuna's BentoML service: recommendations, churn, value and profiles over HTTP.

Start it with ``kizuna serve`` or ``bentoml serve kizuna.serving.service:KizunaService``
(settings: :mod:`serving.config`). The endpoints are thin: they take the
current snapshot (:class:`serving.live.Live`) and call a pure function in
:mod:`serving.recommendations` or :mod:`serving.scoring`. Models load in the background at start-up; ``/readyz``
turns green when they and the customer state are in memory, and until then
the endpoints answer 503.

The endpoints are ``async`` and score small requests on the event loop
itself: a one-customer answer takes about a millisecond, and handing it to a
worker thread cost several more (a GIL hand-off per request). Large batches,
event writes (an fsync) and reloads go to threads, so the loop stays free.
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
import pandas as pd
from starlette.responses import JSONResponse

from kizuna.features.errors import KizunaInputError
from kizuna.models.contact_log import contacts_from_decisions
from kizuna.serving import offers, recommendations, scoring
from kizuna.serving.attribution import RecommendationLog, new_id, store_path, version_label
from kizuna.serving.audience import AudienceError, audience_response
from kizuna.serving.config import Settings
from kizuna.serving.contact_store import append_contacts, read_contact_log
from kizuna.serving.event_checks import check_events
from kizuna.serving.event_store import EventStore
from kizuna.serving.live import Live, ReloadOutcome
from kizuna.serving.middleware import KizunaGuards
from kizuna.serving.offer_file import read_offers
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
from kizuna.serving.store_guard import STORE_ERRORS, GuardedStore, StoreUnavailable, cause_of

# A child of bentoml's logger, so its records go through the server's log configuration.
logger = logging.getLogger("bentoml.kizuna")
#: Batches up to this many ids are scored on the event loop; larger ones in a thread.
INLINE_BATCH = 100


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _field_error(loc: str, message: str) -> JSONResponse:
    """422 in the shape of :mod:`serving.validation`'s answers, for a value the models refuse."""
    detail = [{"loc": loc, "msg": message, "type": "value_error"}]
    return JSONResponse({"error": f"1 invalid field: {loc}: {message}", "detail": detail}, 422)


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
        self._batch_limiter: anyio.CapacityLimiter | None = None
        threading.Thread(target=self._load, name="kizuna-load", daemon=True).start()
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
        return ready, reason, degraded

    # -- endpoints -------------------------------------------------------------------
    @bentoml.api
    async def recommend(self, request: RecommendRequest, /) -> RecommendResponse:
        """Top-k items for a customer, each with a score and a short reason."""
        answer = self._answer(recommendations.recommend, request)
        return self._log_shown("recommend", answer, customer_id=request.customer_id)

    @bentoml.api
    async def similar_items(self, request: SimilarItemsRequest, /) -> SimilarItemsResponse:
        """Items bought together with an item."""
        answer = self._answer(recommendations.similar_items, request)
        return self._log_shown("similar_items", answer, anchor_item=request.item_id)

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
        return self._answer(scoring.customer_profile, request, bands=self.settings.risk_bands)

    @bentoml.api
    async def next_best_offer(self, request: NextBestOfferRequest, /) -> NextBestOfferResponse:
        """The offer worth most for this customer now (or none), with its expected value."""
        served = self.live.current()
        if served is None:
            return self._answer(None, request)  # the 503 answer
        try:
            catalogue = self._catalogue(served)
        except KizunaInputError as exc:
            return _error(503, f"no offer catalogue: {exc}")
        channels = offers.known_channels(catalogue)
        if request.channel is not None and channels and request.channel not in channels:
            known = ", ".join(channels)
            return _field_error("body.channel", f"unknown channel; known: {known}")
        now = pd.Timestamp.now()
        window = pd.Timedelta(days=offers.log_window_days(catalogue))
        try:
            contacts = read_contact_log(self.settings.contact_log, since=now - window)
        except STORE_ERRORS as exc:
            return _error(503, f"contact log unavailable: {cause_of(exc)}")
        contacts = contacts[contacts["customer_id"].astype(str) == request.customer_id]
        answer = self._answer(
            offers.next_best_offer,
            request,
            catalogue=catalogue,
            contacts=contacts,
            now=now,
            bands=self.settings.risk_bands,
        )
        if not isinstance(answer, tuple):
            return answer
        response, raw = answer
        if request.record and raw:
            sent = contacts_from_decisions(
                pd.DataFrame(raw).assign(customer_id=request.customer_id),
                now,
                channel=request.channel,
                campaign_id=request.campaign_id,
            )
            try:
                await anyio.to_thread.run_sync(append_contacts, self.settings.contact_log, sent)
            except STORE_ERRORS as exc:
                return _error(503, f"contact log unavailable: {cause_of(exc)}")
            response.recorded = len(sent) > 0
        return self._log_shown(
            "next_best_offer",
            response,
            customer_id=request.customer_id,
            offer_id=response.decisions[0].offer_id if response.decisions else None,
            grp=response.group,
            campaign_id=request.campaign_id,
            channel=request.channel,
        )

    def _catalogue(self, served: Any) -> Any:
        """The offer catalogue: KIZUNA_OFFERS, else the champions' experiment's, read once."""
        path = self.settings.offers
        if path is None and served.models.experiment is not None:
            path = served.models.experiment.offers
        if path is None:
            raise KizunaInputError("set KIZUNA_OFFERS or `offers:` in the experiment")
        if getattr(self, "_catalogue_cache", (None, None))[0] != path:
            self._catalogue_cache = (path, read_offers(path))
        return self._catalogue_cache[1]

    @bentoml.api
    async def events(self, request: EventsRequest, /) -> EventsResponse:
        """Store new purchase lines durably; they take effect at once."""
        if not 1 <= len(request.events) <= self.settings.max_events:
            return _error(
                422,
                f"events must hold 1 to {self.settings.max_events:,} lines, got "
                f"{len(request.events):,} (KIZUNA_MAX_EVENTS); split the batch",
            )
        try:
            given = pd.DataFrame([e.model_dump() for e in request.events])
            lines = check_events(
                given.drop(columns=["recommendation_id"]),
                max_value=self.settings.max_event_value,
            )
        except KizunaInputError as exc:
            return _error(422, str(exc))
        # The fsync and the feature updates run off the event loop.
        try:
            result, updated = await anyio.to_thread.run_sync(self.live.ingest, lines)
        except StoreUnavailable as exc:
            return _error(503, str(exc))
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
        served = self.live.current()
        if served is None:
            return self._answer(None, request)  # the 503 answer
        try:
            return await anyio.to_thread.run_sync(audience_response, served, request)
        except AudienceError as exc:
            return _error(exc.status, exc.message)

    @bentoml.api
    async def reload(self) -> ReloadResponse:
        """Load the models the aliases point to now and swap them in atomically.

        A failed reload answers 503 (409 while another reload runs) naming the
        model kind, version and cause; the previous models keep serving.
        """
        outcome = await anyio.to_thread.run_sync(self.live.load)
        self._log_outcome(outcome)
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
            details={"event_seq": st.last_event_seq},
            **base,
        )

    # -- plumbing --------------------------------------------------------------------
    def _log_shown(self, placement: str, answer: Any, **fields: Any) -> Any:
        """Give an answer its recommendation_id and log what it showed (off the event loop)."""
        if isinstance(answer, JSONResponse):
            return answer
        answer.recommendation_id = new_id()
        kinds = (
            ("churn", "ltv", "recommender") if placement == "next_best_offer" else ("recommender",)
        )
        shown = (
            [d.offer_id for d in answer.decisions]
            if placement == "next_best_offer"
            else [i.item_id for i in answer.items]
        )
        row = {
            "recommendation_id": answer.recommendation_id,
            "placement": placement,
            "model_version": version_label(answer.model_versions, kinds),
            "items": shown,
            **fields,
        }
        self.recommendation_log.submit(row)  # queued: a background thread commits it
        return answer

    def _answer(self, fn: Callable[..., Any], request: Any, **kwargs: Any) -> Any:
        """Call ``fn(served, request)`` on the current snapshot; refusals become JSON errors."""
        served = self.live.current()
        if served is None:
            return _error(503, self.live.not_ready_reason() or "models are not loaded yet")
        try:
            return fn(served, request, **kwargs)
        except scoring.ServingError as exc:
            return _error(exc.status, exc.message)
        except KizunaInputError as exc:
            return _error(422, str(exc))

    async def _answer_batch(self, fn: Callable[..., Any], request: Any, **kwargs: Any) -> Any:
        if len(request.customer_ids) <= INLINE_BATCH:
            return self._answer(fn, request, **kwargs)
        # One batch thread: concurrent batches queue instead of fighting over the GIL.
        if self._batch_limiter is None:
            self._batch_limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(
            functools.partial(self._answer, fn, request, **kwargs), limiter=self._batch_limiter
        )

    def _load(self) -> None:
        self._log_outcome(self.live.load())

    def _poll(self) -> None:
        while True:
            time.sleep(self.settings.reload_poll_seconds)
            try:
                if self.live.upstream_changed():
                    self._log_outcome(self.live.load())
            except Exception:  # noqa: BLE001 - polling must never stop the service
                logger.exception("checking for new champion versions failed")

    @staticmethod
    def _log_outcome(outcome: ReloadOutcome) -> None:
        if outcome.reloaded:
            logger.info("%s: %s", outcome.message, outcome.versions)
        else:
            logger.error("%s %s", outcome.message, outcome.error or "")


# Registered here, built (and settings read) when a worker builds its app. Outermost
# first: probes, then CORS, the API key, limits, validation, then the OpenAPI document.
KizunaService.add_asgi_middleware(Probes)
KizunaService.add_asgi_middleware(KizunaGuards)
KizunaService.add_asgi_middleware(DocumentedErrors)
KizunaService.mount_asgi_app(ReportApp(), path="/report")  # KIZUNA_REPORT, read when asked
patch_server([*(f"/{name}" for name in KizunaService.apis), "/report"])
