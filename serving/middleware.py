"""The service's HTTP guards, built from the settings when the server builds its app.

:class:`KizunaGuards` is the one middleware the service registers. BentoML
instantiates it when a worker builds its ASGI app (at start, not at import),
and it reads :class:`serving.config.Settings` then. Outermost first:

0. the Host header (``KIZUNA_ALLOWED_HOSTS``, :mod:`serving.hosts`): 400 for a name the
   service is not known by (DNS rebinding), before anything else;
1. CORS (``KIZUNA_CORS_ORIGINS``): a browser preflight is answered before any key check;
2. the API key (401), with the docs open when ``KIZUNA_PUBLIC_DOCS`` is true;
3. body size (413), media type (415) and body read timeout (408);
4. strict request models (:mod:`serving.validation`: 400 malformed JSON, 422 per field);
5. ``/report`` redirected to ``./report/`` with a relative ``Location``
   (:class:`serving.report_app.ReportRedirect`).

:func:`bounded_metric_labels` keeps Prometheus' ``endpoint`` label to the
service's own routes: every other path is counted as ``/{unknown}``.
"""

from __future__ import annotations

from collections.abc import Iterable

from kizuna.serving.auth import (
    DOCS_PATHS,
    HEALTH_PATHS,
    ApiKeyMiddleware,
    ASGIApp,
    Receive,
    RequestLimitMiddleware,
    Scope,
    Send,
)
from kizuna.serving.config import Settings
from kizuna.serving.hosts import HostGuard, allowed_hosts
from kizuna.serving.report_app import ReportRedirect
from kizuna.serving.validation import RequestValidationMiddleware

UNKNOWN_PATH = "/{unknown}"
SYSTEM_PATHS = frozenset({*HEALTH_PATHS, *DOCS_PATHS, "/metrics"})


class KizunaGuards:
    """Host, CORS, API key, body limits and strict validation around the service's app.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    settings
        Read from the environment when None (when the server builds its app).
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        settings = settings or Settings.from_env()
        inner: ASGIApp = RequestValidationMiddleware(ReportRedirect(app), settings)
        inner = RequestLimitMiddleware(
            inner, max_body_bytes=settings.max_body_bytes, body_timeout=settings.body_timeout
        )
        inner = ApiKeyMiddleware(
            inner,
            api_key=settings.api_key,
            public_paths=DOCS_PATHS if settings.public_docs else (),
        )
        if settings.cors_origins:
            from starlette.middleware.cors import CORSMiddleware

            inner = CORSMiddleware(
                inner,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["content-type", "x-api-key", "authorization"],
                max_age=600,
            )
        hosts = allowed_hosts(settings)
        if hosts is not None:
            inner = HostGuard(inner, hosts, local_address=settings.allowed_hosts is None)
        self.app = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def bounded_metric_labels(api_paths: Iterable[str]) -> None:
    """Label request metrics of any path but the service's own as :data:`UNKNOWN_PATH`.

    BentoML's traffic-metrics middleware runs outside every user middleware
    and labels each request with its raw path, so random paths would each add
    a time series: tens of megabytes of ``/metrics`` after ten thousand. Its
    class is looked up when a worker builds its app; this replaces it with a
    subclass that maps the label first (the app still sees the real path).
    Idempotent.

    Parameters
    ----------
    api_paths
        The service's own paths.
    """
    from bentoml._internal.server.http import instruments

    known = SYSTEM_PATHS | frozenset(api_paths)
    base = instruments.RunnerTrafficMetricsMiddleware
    if getattr(base, "kizuna_known_paths", None) is not None:
        base.kizuna_known_paths = known
        return

    class BoundedLabelMetricsMiddleware(base):  # type: ignore[misc, valid-type]
        kizuna_known_paths = known

        def __init__(self, app: ASGIApp, *args, **kwargs) -> None:
            async def real_path(scope: Scope, receive: Receive, send: Send) -> None:
                original = scope.pop("kizuna.original_path", None)
                if original is not None:
                    scope["path"] = original
                await app(scope, receive, send)

            super().__init__(real_path, *args, **kwargs)

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "")
            if scope["type"].startswith(("http", "websocket")) and path not in (
                self.kizuna_known_paths
            ):
                scope["kizuna.original_path"] = path
                scope["path"] = UNKNOWN_PATH
            await super().__call__(scope, receive, send)

    instruments.RunnerTrafficMetricsMiddleware = BoundedLabelMetricsMiddleware
