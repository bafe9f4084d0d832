"""A deadline for request headers, which uvicorn (under BentoML) does not have.

uvicorn's ``timeout_keep_alive`` starts only after a response and stops at
the first byte of the next request, so a connection that sends nothing, or
half a request line and then trickles (slowloris), is held for ever. This
h11 protocol closes a connection whose next request's headers are not
complete ``KIZUNA_HEADER_TIMEOUT`` seconds after it opened or after its last
response. A half-sent *body* is answered 408 by
:class:`serving.auth.RequestLimitMiddleware` (``KIZUNA_BODY_TIMEOUT``).

:func:`use_header_timeout` makes uvicorn pick this protocol; BentoML builds
uvicorn's config without an ``http=`` choice, so the default entry is
replaced (uvicorn resolves it when its server starts, after this runs).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


@functools.cache
def header_timeout() -> float:
    """Seconds a client gets to send a request's headers (read once per process).

    Returns
    -------
    float
        Seconds.
    """
    from kizuna.serving.config import Settings

    return Settings.from_env().header_timeout


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._cancel_header_timer()  # a request's headers are complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request on this connection

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(header_timeout(), self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()


def use_header_timeout() -> None:
    """Make uvicorn's default HTTP protocol :class:`HeaderTimeoutH11Protocol` (idempotent)."""
    from uvicorn import config

    name = f"{__name__}:{HeaderTimeoutH11Protocol.__name__}"
    config.HTTP_PROTOCOLS["auto"] = name
    config.HTTP_PROTOCOLS["h11"] = name
