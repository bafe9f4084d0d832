"""``/readyz`` with its reason: what is not ready, and which model kinds are degraded.

BentoML's own probe answers a bare 503 ("__is_ready__() returns False"); an
operator needs the cause. This middleware answers ``/readyz`` from the
running service's :meth:`readiness` once the service exists (before that,
BentoML's probe answers 503 as usual):

- 200 ``{"ready": true, "degraded": {}}``; with a model kind that failed to
  load, ``degraded`` names it and its cause, and only its endpoints answer 503;
- 503 ``{"ready": false, "reason": "...", "degraded": {...}}``.
"""

from __future__ import annotations

from typing import Any

from kizuna.serving.auth import ASGIApp, Receive, Scope, Send, send_json
from kizuna.serving.redact import hide_passwords


def _service() -> Any:
    import bentoml

    try:
        return bentoml.get_current_service()
    except Exception:  # noqa: BLE001 - no service yet: BentoML's probe answers
        return None


class Probes:
    """Answer ``GET /readyz`` with the reason (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("path") == "/readyz"
            and scope.get("method") in ("GET", "HEAD")
        ):
            service = _service()
            if service is not None and hasattr(service, "readiness"):
                ready, reason, degraded = service.readiness()
                # An open probe: a store URL's password never shows (the reason may name one).
                degraded = {k: hide_passwords(v) for k, v in degraded.items()}
                payload: dict[str, Any] = {"ready": ready, "degraded": degraded}
                if reason:
                    payload["reason"] = hide_passwords(reason)
                await send_json(send, 200 if ready else 503, payload)
                return
        await self.app(scope, receive, send)
