"""Request guards that run before BentoML parses a body: API key, body size, media type.

Both are plain ASGI middlewares (added with ``Service.add_asgi_middleware``),
so a refused request costs no JSON parsing and never reaches a model.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Kubernetes-style probes stay open: an orchestrator has no key.
HEALTH_PATHS = frozenset({"/livez", "/healthz", "/readyz"})
#: The API documentation; open with an API key only when KIZUNA_PUBLIC_DOCS is true.
DOCS_PATHS = frozenset({"/", "/docs.json", "/schema.json"})
API_KEY_HEADER = "x-api-key"


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The key a request carries: ``X-API-Key``, else ``Authorization: Bearer <key>``.

    Parameters
    ----------
    headers
        The request's raw headers.

    Returns
    -------
    bytes or None
    """
    bearer = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == API_KEY_HEADER.encode():
            return value.strip()
        if lowered == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                bearer = token.strip()
    return bearer


def key_matches(presented: bytes | None, expected: str) -> bool:
    """Constant-time comparison (no early exit on the first differing byte).

    Parameters
    ----------
    presented
        The key the request carries, or None.
    expected
        The configured key.

    Returns
    -------
    bool
    """
    if presented is None:
        # Compare anyway, so a missing key takes as long as a wrong one.
        hmac.compare_digest(b"\0" * len(expected.encode()), expected.encode())
        return False
    return hmac.compare_digest(presented, expected.encode())


async def send_json(
    send: Send,
    status: int,
    payload: dict[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """Refuse with 401 every HTTP request without the key, except the health probes.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    api_key
        The expected key; ``None`` or empty turns the check off.
    public_paths
        Paths open without the key besides the health probes (e.g. :data:`DOCS_PATHS`).
    """

    def __init__(
        self, app: ASGIApp, api_key: str | None = None, public_paths: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.api_key = api_key or None
        self.open_paths = HEALTH_PATHS | frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.api_key is None
            or scope["type"] != "http"
            or scope.get("path", "") in self.open_paths
            or key_matches(presented_key(scope.get("headers", [])), self.api_key)
        ):
            await self.app(scope, receive, send)
            return
        await send_json(
            send,
            401,
            {
                "error": "missing or invalid API key: send it in the X-API-Key header "
                "or as Authorization: Bearer <key>"
            },
            headers=[(b"www-authenticate", b'Bearer realm="kizuna"')],
        )


class RequestLimitMiddleware:
    """Refuse oversized (413), non-JSON (415) and too slowly sent (408) POST bodies.

    The body is read here, up to ``max_body_bytes``, and replayed to the app,
    so a client that sends no ``Content-Length`` (chunked) is bounded too. A
    body not complete ``body_timeout`` seconds after its headers is answered
    408 and the connection closed, so half-sent requests do not pile up.
    Media types compare case-insensitively (``Application/JSON; charset=utf-8``).
    """

    def __init__(
        self, app: ASGIApp, max_body_bytes: int = 2_000_000, body_timeout: float = 10.0
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        # A body without a Content-Type is refused too: a browser sends such a POST
        # cross-site without a preflight (a Blob body, sendBeacon), which CORS does not stop.
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        bodyless = headers.get(b"content-length", b"0").strip() == b"0" and (
            b"transfer-encoding" not in headers
        )  # /status, /reload: nothing to read as anything
        if not (media_type == b"application/json" or media_type.endswith(b"+json")) and not (
            bodyless and not media_type
        ):
            await send_json(
                send,
                415,
                {
                    "error": f"send JSON with Content-Type: application/json, "
                    f"not {media_type.decode('latin-1')[:80] or 'no Content-Type'!r}"
                },
            )
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await send_json(send, 413, self._too_large(int(declared)))
            return
        chunks: list[bytes] = []
        size = 0
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                await send_json(
                    send,
                    408,
                    {"error": f"request body not received within {self.body_timeout:g} s"},
                    headers=[(b"connection", b"close")],
                )
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await send_json(send, 413, self._too_large(size))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, size: int) -> dict[str, Any]:
        return {
            "error": f"request body too large: {size:,} bytes, the limit is "
            f"{self.max_body_bytes:,} (KIZUNA_MAX_BODY_BYTES); split the batch"
        }
