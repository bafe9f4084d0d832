"""``GET /report``: the latest relationship report, as ``kizuna report --out`` wrote it.

A tiny ASGI app mounted on the service (behind the same API-key middleware).
The file is read per request, off the event loop, so a new report shows at once.
``GET /report`` is redirected to ``/report/`` by :class:`ReportRedirect`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from starlette.responses import HTMLResponse, JSONResponse


class ReportApp:
    """Serve the HTML file at ``path`` (404 with a hint while there is none)."""

    def __init__(self, path: Path | None = None) -> None:
        # None: KIZUNA_REPORT (default $KIZUNA_DATA_DIR/report.html), read at the first request.
        self.path = path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if self.path is None:
            from kizuna.serving.config import Settings

            self.path = Settings.from_env().report
        if scope.get("method", "GET") not in ("GET", "HEAD"):
            response: Any = JSONResponse({"error": "use GET"}, status_code=405)
        elif self.path is None or not self.path.is_file():
            response = JSONResponse(
                {
                    "error": f"no report yet: run `kizuna report EXPERIMENT --out {self.path}` "
                    "(the file KIZUNA_REPORT names, default $KIZUNA_DATA_DIR/report.html)"
                },
                status_code=404,
            )
        else:
            text = await anyio.to_thread.run_sync(self.path.read_text, "utf-8")
            response = HTMLResponse(text)
        await response(scope, receive, send)


class ReportRedirect:
    """Redirect ``/report`` to ``./report/`` (307, query string kept), relative.

    Starlette's own redirect builds an absolute ``Location`` from the ``Host``
    header, so a forged Host would send the browser elsewhere, and a proxy that
    serves the service under a path prefix would lose the prefix; a relative one
    does neither.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != "/report":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        location = b"./report/" + (b"?" + query if query else b"")
        await send(
            {
                "type": "http.response.start",
                "status": 307,
                "headers": [(b"location", location), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
