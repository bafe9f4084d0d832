"""The Host-header allow-list (``KIZUNA_ALLOWED_HOSTS``): no DNS rebinding.

A web page can make a browser on the service's machine send requests to it
through DNS rebinding: the attacker's name first resolves to the attacker,
then to 127.0.0.1, and the page reads the answers as its own origin. Such a
request always carries the attacker's name in its ``Host`` header, so a
service that answers only the names it is known by cannot be reached that way.

Which names (:func:`allowed_hosts`):

- ``KIZUNA_ALLOWED_HOSTS`` when set (comma-separated; ``*`` any host,
  ``*.example.com`` any name under ``example.com``);
- else, with ``KIZUNA_API_KEY`` set, any host (the key is the guard; a page
  cannot know it);
- else ``localhost``, ``127.0.0.1``, ``::1`` and the address the connection
  arrived on (an address is never the attacker's name).

The probes (``/livez``, ``/healthz``, ``/readyz``) and ``/metrics`` answer
whatever the Host: an orchestrator or a scraper names the pod as it likes, and
they read nothing of a customer's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kizuna.serving.auth import HEALTH_PATHS, ASGIApp, Receive, Scope, Send, send_json
from kizuna.serving.config import Settings

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: Answered whatever the Host header says (see the module docstring).
ANY_HOST_PATHS = HEALTH_PATHS | frozenset({"/metrics"})


def host_name(value: str) -> str:
    """The name of a Host header, lower case, without port, brackets or a final dot.

    ``"[::1]:3000"`` -> ``"::1"``, ``"LocalHost.:80"`` -> ``"localhost"``.

    Parameters
    ----------
    value
        The header's value.

    Returns
    -------
    str
    """
    value = value.strip().lower()
    if value.startswith("["):  # an IPv6 address, perhaps with a port after "]"
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def allowed_hosts(settings: Settings) -> tuple[str, ...] | None:
    """The names requests may carry in ``Host`` (module docstring).

    Parameters
    ----------
    settings
        The service settings.

    Returns
    -------
    tuple of str or None
        Names and ``*.domain`` patterns; None: any host.
    """
    if settings.allowed_hosts is not None:
        return None if "*" in settings.allowed_hosts else settings.allowed_hosts
    return None if settings.api_key else LOOPBACK_HOSTS


def host_matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether ``name`` is one of ``patterns`` or under a ``*.domain`` one.

    Parameters
    ----------
    name
        A host name (:func:`host_name` form).
    patterns
        Names and ``*.domain`` patterns.

    Returns
    -------
    bool
    """
    for pattern in patterns:
        if pattern.startswith("*."):
            if name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
                return True
        elif name == pattern:
            return True
    return False


class HostGuard:
    """Answer 400 to an HTTP request whose ``Host`` header names no allowed host.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    allowed
        Allowed names and ``*.domain`` patterns (:func:`host_name` form).
    local_address
        Also allow the address the connection arrived on (the default list's).
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str], *, local_address: bool) -> None:
        self.app = app
        self.allowed = tuple(allowed)
        self.local_address = local_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in ANY_HOST_PATHS:
            await self.app(scope, receive, send)
            return
        raw = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        name = host_name(raw)
        server = scope.get("server") or (None, None)
        if name and (
            host_matches(name, self.allowed)
            or (self.local_address and server[0] is not None and name == server[0].lower())
        ):
            await self.app(scope, receive, send)
            return
        shown = json.dumps(raw[:100]) if raw else "(none)"
        await send_json(
            send,
            400,
            {
                "error": f"Host {shown} is not allowed: name the service as KIZUNA_ALLOWED_HOSTS "
                "allows (without it and without KIZUNA_API_KEY: localhost, 127.0.0.1, ::1 or "
                "the service's address)"
            },
        )
