"""The service's background work: loading models, reading the contact log, polling the registry.

:class:`Background` starts the threads a worker needs at start-up and answers
``/readyz`` (:meth:`Background.readiness`) from what they have done so far:
models loaded, the event store reachable and a CSV contact log in memory.
After every new snapshot it scores the audiences in a thread of their own
(:mod:`serving.audience_scores`), so ``/status`` shows how far that is.
"""

from __future__ import annotations

import logging
import threading
import time

from kizuna.serving.audience_cache import warm as warm_audiences
from kizuna.serving.config import Settings
from kizuna.serving.live import Live, ReloadOutcome
from kizuna.serving.offer_answers import OfferDesk
from kizuna.serving.store_guard import GuardedStore

# A child of bentoml's logger, so its records go through the server's log configuration.
logger = logging.getLogger("bentoml.kizuna")


class Background:
    """Start-up and polling threads of one service worker, and the readiness they give.

    Parameters
    ----------
    live
        The served snapshot to load (and reload when the registry changes).
    store
        The guarded event store; a fault makes the service not ready.
    offers
        Its contact log is read into memory before ``/readyz`` turns green.
    settings
        ``reload_poll_seconds``, ``contact_log`` and ``audience_cache_bytes``.
    """

    def __init__(
        self, live: Live, store: GuardedStore, offers: OfferDesk, settings: Settings
    ) -> None:
        self.live = live
        self.store = store
        self.offers = offers
        self.settings = settings
        self._contacts_read = threading.Event()

    def start(self) -> None:
        """Load the models, read the contact log and (if asked) poll, each in a daemon thread."""
        threading.Thread(target=self._load, name="kizuna-load", daemon=True).start()
        threading.Thread(target=self._warm_contacts, name="kizuna-contacts", daemon=True).start()
        if self.settings.reload_poll_seconds > 0:
            threading.Thread(target=self._poll, name="kizuna-poll", daemon=True).start()

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
        ready, reason, degraded = self.live.readiness()
        fault = self.store.check()
        if fault is not None:
            reasons = [f"event store unavailable: {fault}", *([reason] if reason else [])]
            return False, "; ".join(reasons), degraded
        if not self._contacts_read.is_set():  # a large CSV log takes a few seconds
            reasons = [*([reason] if reason else []), "reading the contact log into memory"]
            return False, "; ".join(reasons), degraded
        return ready, reason, degraded

    def loaded(self, outcome: ReloadOutcome) -> None:
        """Log a load; after a new snapshot, score its audiences in the background.

        Parameters
        ----------
        outcome
            What the (re)load did.
        """
        if not outcome.reloaded:
            logger.error("%s %s", outcome.message, outcome.error or "")
            return
        logger.info("%s: %s", outcome.message, outcome.versions)
        served = self.live.served
        if served is not None:  # in a thread of its own; /status shows how far it is
            warm_audiences(served, self.settings.audience_cache_bytes)

    def _load(self) -> None:
        self.loaded(self.live.load())

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
                    self.loaded(self.live.load())
            except Exception:  # noqa: BLE001 - polling must never stop the service
                logger.exception("checking for new champion versions failed")
