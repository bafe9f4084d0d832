"""kizuna's BentoML service: recommendations, churn, value and profiles over HTTP.

Start it with ``kizuna serve`` or ``bentoml serve kizuna.serving.service:KizunaService``
(settings: :mod:`serving.config`). The endpoints are thin: they take the
current snapshot (:class:`serving.live.Live`) and call a pure function in
:mod:`serving.recommendations`, :mod:`serving.scoring`, :mod:`serving.audience`
or :class:`serving.offer_answers.OfferDesk`; :mod:`serving.answers` turns
refusals into JSON errors. Models load in the background at start-up
(:class:`serving.background.Background`); ``/readyz`` turns green when they and
the customer state (and a CSV contact log) are in memory; until the models are,
the endpoints answer 503. ``/events`` is :func:`serving.event_intake.store_events`,
``/status`` and ``/reload`` answer through :mod:`serving.status`. Each body
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
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import bentoml

from kizuna.serving import recommendations, scoring
from kizuna.serving.answers import answer, answer_audience, current, log_shown
from kizuna.serving.attribution import RecommendationLog, store_path
from kizuna.serving.background import Background
from kizuna.serving.config import Settings
from kizuna.serving.event_intake import store_events
from kizuna.serving.event_store import EventStore
from kizuna.serving.live import Live
from kizuna.serving.middleware import KizunaGuards
from kizuna.serving.model_registry import served_experiment
from kizuna.serving.offer_answers import OfferDesk, log_offer
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
from kizuna.serving.status import reload_response, status_response
from kizuna.serving.store_guard import GuardedStore

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
        settings = Settings.from_env()
        if settings.event_store is None or settings.contact_log is None:
            # The stores are the served experiment's, known before anything is stored:
            # `kizuna serve` names it; a model folder or a Bento's bundle holds it.
            experiment = served_experiment(settings.model_source, settings.experiment)
            settings = settings.for_experiment(experiment)
        self.settings = settings
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
        self.background = Background(self.live, self.store, self.offers, settings)
        self.background.start()

    def __is_ready__(self) -> bool:
        return self.readiness()[0]

    def readiness(self) -> tuple[bool, str | None, dict[str, str]]:
        """(ready, why not, degraded model kinds -> cause), for ``/readyz``.

        Returns
        -------
        ready : bool
        reason : str or None
            Why not ready.
        degraded : dict of str -> str
            Model kind -> why it is not served.
        """
        return self.background.readiness()

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
        return log_offer(self.recommendation_log, request, out)

    @bentoml.api
    async def events(self, request: EventsRequest, /) -> EventsResponse:
        """Store new purchase lines durably; they take effect at once."""
        return await store_events(request, self.live, self.recommendation_log, self.settings)

    @bentoml.api
    async def audience(self, request: AudienceRequest, /) -> AudienceResponse:
        """Customers most likely to buy an item or a category soon, with scores and reasons."""
        return await answer_audience(self.live, request, self.settings)

    @bentoml.api
    async def reload(self) -> ReloadResponse:
        """Load the models the aliases point to now and swap them in atomically.

        A failed reload answers 503 (409 while another reload runs) naming the
        model kind, version and cause; the previous models keep serving.
        """
        outcome = await anyio.to_thread.run_sync(self.live.load)
        self.background.loaded(outcome)
        return reload_response(outcome)

    @bentoml.api
    async def status(self) -> StatusResponse:
        """What is loaded: versions, data as-of, sizes, the last reload error."""
        return status_response(self.live, self.settings, self.readiness())

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


# Registered here, built (and settings read) when a worker builds its app. Outermost
# first: probes, then CORS, the API key, limits, validation, then the OpenAPI document.
KizunaService.add_asgi_middleware(Probes)
KizunaService.add_asgi_middleware(KizunaGuards)
KizunaService.add_asgi_middleware(DocumentedErrors)
KizunaService.mount_asgi_app(ReportApp(), path="/report")  # KIZUNA_REPORT, read when asked
patch_server(KizunaService.apis, ["/report"])
