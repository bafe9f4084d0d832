"""``/next_best_offer`` end to end: the offer catalogue, the contact log and the decision.

The decision itself is :func:`serving.offers.next_best_offer` (pure, on a
snapshot); :class:`OfferDesk` gathers its inputs and records what was sent.
The file and SQLite reads and writes run in worker threads, so the event loop
never waits on a disk; a recorded decision reads the customer's contacts and
appends its own under one lock, so caps hold when calls come at once (within
this process: a second service or a batch run writing the same log at the same
instant is not serialised with it); a read costs O(the customer's contacts), not O(log)
(:class:`serving.contact_index.ContactLog`).
"""

from __future__ import annotations

import zlib
from typing import Any

import anyio
import anyio.to_thread
import pandas as pd
from starlette.responses import JSONResponse

from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import utc_now
from kizuna.models.contact_log import contacts_from_decisions
from kizuna.serving import offers
from kizuna.serving.answers import answer, error, field_error, log_shown, not_ready
from kizuna.serving.attribution import RecommendationLog
from kizuna.serving.config import Settings
from kizuna.serving.contact_index import ContactLog
from kizuna.serving.live import Live, Served
from kizuna.serving.offer_file import read_offers
from kizuna.serving.schemas import NextBestOfferRequest, NextBestOfferResponse
from kizuna.serving.store_guard import STORE_ERRORS, cause_of

#: Locks that serialise recorded decisions of the customers hashed to each.
LOCK_STRIPES = 64


class OfferDesk:
    """The inputs of offer decisions: the catalogue (read once per path) and the contact log.

    Parameters
    ----------
    settings
        ``offers`` (the catalogue, else the champions' experiment's),
        ``contact_log`` and ``risk_bands``.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.contacts = ContactLog(settings.contact_log)
        self._catalogue: tuple[Any, Any] = (None, None)  # (path, catalogue)
        self._stripes: list[anyio.Lock] = []

    def _recording(self, customer_id: str) -> anyio.Lock:
        """The lock a recorded decision for ``customer_id`` holds from reading its contacts
        to appending the new one, so two calls at once cannot both pass a cap. Striped:
        memory stays fixed, and customers who share a stripe only wait their turn."""
        if not self._stripes:  # made on the event loop, on first use
            self._stripes = [anyio.Lock() for _ in range(LOCK_STRIPES)]
        return self._stripes[zlib.crc32(customer_id.encode()) % LOCK_STRIPES]

    def catalogue_path(self, served: Served) -> Any:
        """KIZUNA_OFFERS, else the ``offers:`` of the champions' experiment.

        Parameters
        ----------
        served
            The loaded snapshot.

        Returns
        -------
        str or pathlib.Path
            Raises a KizunaInputError when neither is set.
        """
        path = self.settings.offers
        if path is None and served.models.experiment is not None:
            path = served.models.experiment.offers
        if path is None:
            raise KizunaInputError("set KIZUNA_OFFERS or `offers:` in the experiment")
        return path

    def catalogue(self, served: Served) -> Any:
        """The offer catalogue, read from its file the first time (blocking: call in a thread).

        Parameters
        ----------
        served
            The loaded snapshot.

        Returns
        -------
        OfferCatalogue
        """
        path = self.catalogue_path(served)
        if self._catalogue[0] != path:
            self._catalogue = (path, read_offers(path))
        return self._catalogue[1]

    async def decide(
        self, served: Served | None, live: Live, request: NextBestOfferRequest
    ) -> NextBestOfferResponse | JSONResponse:
        """The answer to ``request``, its contact recorded when asked (before logging it).

        Parameters
        ----------
        served
            The snapshot to answer from, or None.
        live
            The service's live state.
        request
            The ``/next_best_offer`` request.

        Returns
        -------
        NextBestOfferResponse or JSONResponse
        """
        if served is None:
            return not_ready(live)
        try:
            catalogue = await self._catalogue_for(served)
        except KizunaInputError as exc:
            return error(503, f"no offer catalogue: {exc}")
        channels = offers.known_channels(catalogue)
        if request.channel is not None and channels and request.channel not in channels:
            return field_error("body.channel", f"unknown channel; known: {', '.join(channels)}")
        if request.control_share > 0 and not request.campaign_id:  # the split hashes it
            return field_error("body.campaign_id", "required with control_share above 0")
        if not request.record:
            return await self._decided(served, live, request, catalogue)
        async with self._recording(request.customer_id):
            return await self._decided(served, live, request, catalogue)

    async def _decided(
        self, served: Served, live: Live, request: NextBestOfferRequest, catalogue: Any
    ) -> NextBestOfferResponse | JSONResponse:
        now = utc_now()
        since = now - pd.Timedelta(days=offers.log_window_days(catalogue))
        try:
            contacts = await anyio.to_thread.run_sync(
                self.contacts.read, request.customer_id, since
            )
        except STORE_ERRORS as exc:
            return error(503, f"contact log unavailable: {cause_of(exc)}")
        decided = answer(
            served,
            live,
            offers.next_best_offer,
            request,
            catalogue=catalogue,
            contacts=contacts,
            now=now,
            bands=self.settings.risk_bands,
        )
        if not isinstance(decided, tuple):
            return decided
        response, raw = decided
        if request.record and raw:
            sent = contacts_from_decisions(
                pd.DataFrame(raw).assign(customer_id=request.customer_id),
                now,
                channel=request.channel,
                campaign_id=request.campaign_id,
            )
            try:
                await anyio.to_thread.run_sync(self.contacts.append, sent)
            except STORE_ERRORS as exc:
                return error(503, f"contact log unavailable: {cause_of(exc)}")
            response.recorded = len(sent) > 0
        return response

    async def _catalogue_for(self, served: Served) -> Any:
        path, catalogue = self._catalogue
        if path is not None and path == self.catalogue_path(served):
            return catalogue  # read already: no thread hop
        return await anyio.to_thread.run_sync(self.catalogue, served)


def log_offer(
    log: RecommendationLog, request: NextBestOfferRequest, out: NextBestOfferResponse | JSONResponse
) -> NextBestOfferResponse | JSONResponse:
    """Give an offer answer its recommendation_id and queue what it showed (errors pass through).

    Parameters
    ----------
    log
        The recommendation log.
    request
        The ``/next_best_offer`` request.
    out
        The answer, or an error response.

    Returns
    -------
    NextBestOfferResponse or JSONResponse
        ``out``, with its ``recommendation_id`` set when it is an answer.
    """
    if isinstance(out, JSONResponse):
        return out
    return log_shown(
        log,
        "next_best_offer",
        out,
        customer_id=request.customer_id,
        offer_id=out.decisions[0].offer_id if out.decisions else None,
        grp=out.group,
        campaign_id=request.campaign_id,
        channel=request.channel,
    )
