"""The service's OpenAPI document (``/docs.json``): valid OpenAPI 3.0.3, errors documented.

BentoML builds the document from pydantic's JSON Schema (2020-12 keywords)
but declares OpenAPI 3.0.2, drops ``null`` from optional fields, names
schemas after its internal wrappers (``RecommendRequestIODescriptor``) and
fills ``info`` with its own boilerplate. :func:`document` rewrites it:

- 3.0 keywords: ``nullable: true`` instead of ``{"type": "null"}`` (and on
  every field whose default is null), boolean ``exclusiveMaximum`` /
  ``exclusiveMinimum`` beside ``maximum`` / ``minimum``, no custom keys;
- ``info`` with kizuna's title, description and package version;
- request bodies ``required``; batch limits (``maxItems``) from the settings;
- the error answers every endpoint may give (400, 401, 408, 413, 415, 422,
  503; 404 and 409 where they occur), with their JSON shape;
- with an API key set, its two ways in (``securitySchemes``), required on
  every path but the health probes (and the docs when they are public).

:class:`DocumentedErrors` serves the rewritten document in place of BentoML's.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from kizuna.serving.auth import (
    DOCS_PATHS,
    HEALTH_PATHS,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
)
from kizuna.serving.config import Settings
from kizuna.serving.version import package_version

OPENAPI_VERSION = "3.0.3"
DOC_PATHS = frozenset({"/docs.json"})
_WRAPPER = "IODescriptor"

ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What is wrong, in one line."}},
}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "title": "FieldErrors",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "detail": {
            "description": "Per invalid field (absent when the served models refuse a value).",
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "string", "example": "body.events[3].quantity"},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
ERRORS = {
    "400": "Malformed JSON.",
    "401": "Missing or wrong API key (when KIZUNA_API_KEY is set).",
    "408": "The request body was not received within KIZUNA_BODY_TIMEOUT seconds.",
    "413": "Body larger than KIZUNA_MAX_BODY_BYTES.",
    "415": "Not JSON (Content-Type must be application/json).",
    "422": "A field is invalid: its path, message and type, per field; or a value the "
    "served models refuse (unknown category, channel, ...).",
    "503": "Not ready: models not loaded, this model kind unavailable, or the event "
    "store unavailable (the cause is named).",
}
EXTRA_ERRORS = {
    "/similar_items": {"404": "Unknown item."},
    "/audience": {
        "404": "Unknown item (an unknown category is a 422).",
        "503": "Not ready (as for every endpoint), or the audience scores computed after a "
        "load are not done within KIZUNA_AUDIENCE_WAIT_SECONDS: ask again after the "
        "Retry-After header's seconds (progress in /status).",
    },
    "/next_best_offer": {
        "503": "Not ready (as for every endpoint), no offer catalogue (KIZUNA_OFFERS or the "
        "experiment's `offers:`), or the contact log unavailable (the cause is named).",
    },
    "/reload": {"409": "Another reload is running."},
}
BATCH_FIELDS = {"customer_ids": "max_batch", "events": "max_events"}


def document(spec: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The rewritten document (see the module docstring); ``spec`` is not changed.

    Parameters
    ----------
    spec
        The OpenAPI document BentoML generates.
    settings
        The service settings.

    Returns
    -------
    dict
        A new document.
    """
    spec = json.loads(json.dumps(spec).replace(_WRAPPER, ""))
    spec["openapi"] = OPENAPI_VERSION
    spec["info"] = {
        "title": "kizuna",
        "version": package_version(),
        "description": _description(),
    }
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["FieldErrors"] = FIELD_ERRORS_SCHEMA
    for name in ("InvalidArgument", "NotFound", "InternalServerError", "TaskStatusResponse"):
        schemas.pop(name, None)
    for path, item in spec.get("paths", {}).items():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                _operation(path, operation, settings)
    spec["paths"].get("/readyz", {}).get("get", {})["responses"] = {
        "200": {
            "description": "Ready (``degraded`` names model kinds that failed to load or "
            "have no version at the served alias)."
        },
        "503": {"description": "Not ready; ``reason`` says why."},
    }
    # The report is a mounted page, not a BentoML API: BentoML leaves it out.
    spec["paths"]["/report/"] = {
        "get": {
            "summary": "The latest relationship report (``kizuna report --out``), as HTML.",
            "responses": {
                "200": {"description": "The page.", "content": {"text/html": {}}},
                "404": {"description": "No report written yet; ``error`` says where to."},
            },
        }
    }
    if settings.api_key:
        _security(spec, public_docs=settings.public_docs)
    return _to_openapi30(spec)


#: How a client presents the key (``serving.auth.presented_key`` reads both).
SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "Bearer": {"type": "http", "scheme": "bearer"},
}


def _security(spec: dict[str, Any], *, public_docs: bool) -> None:
    """Declare the API key (either header) on every path but those open without it."""
    spec["components"]["securitySchemes"] = SECURITY_SCHEMES
    spec["security"] = [{name: []} for name in SECURITY_SCHEMES]
    open_paths = HEALTH_PATHS | (DOCS_PATHS if public_docs else frozenset())
    for path, item in spec.get("paths", {}).items():
        if path in open_paths:
            for operation in item.values():
                if isinstance(operation, dict):
                    operation["security"] = []


def _description() -> str:
    try:
        summary = metadata.metadata("kizuna")["Summary"]
    except metadata.PackageNotFoundError:
        summary = "Relationship-marketing ML service."
    return (
        f"{summary}\n\nAll answers are JSON. Errors carry `error` (one line); a 422 also "
        "carries `detail`, one entry per invalid field with its path (`body.events[3].quantity`)."
    )


def _operation(path: str, operation: dict[str, Any], settings: Settings) -> None:
    body = operation["requestBody"]
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    has_fields = bool(schema.get("properties"))
    body["required"] = has_fields
    for field, setting in BATCH_FIELDS.items():
        if field in schema.get("properties", {}):
            schema["properties"][field]["maxItems"] = getattr(settings, setting)
    responses = operation.setdefault("responses", {})
    for code in ("400", "404", "500"):
        responses.pop(code, None)
    for code, text in {**ERRORS, **EXTRA_ERRORS.get(path, {})}.items():
        ref = "FieldErrors" if code == "422" else "Error"
        responses[code] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }
    ok = responses.get("200", {}).get("content", {}).get("application/json", {})
    _naive_datetimes(ok.get("schema", {}))
    if path == "/audience":  # a 503 while the kept scores are computed says when to ask again
        responses["503"]["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before asking again.",
                "schema": {"type": "integer"},
            }
        }
    if path == "/reload":  # a failed reload also carries the reload answer's fields
        responses["503"]["content"]["application/json"]["schema"] = {"type": "object"}


def _naive_datetimes(node: Any) -> None:
    """Answers give UTC times without an offset, which ``format: date-time`` (RFC 3339) forbids."""
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            node.pop("format")
            node["description"] = "ISO 8601 date and time in UTC, without an offset."
        for value in node.values():
            _naive_datetimes(value)
    elif isinstance(node, list):
        for value in node:
            _naive_datetimes(value)


def _to_openapi30(node: Any) -> Any:
    """JSON Schema 2020-12 keywords as OpenAPI 3.0 schema objects accept them."""
    if isinstance(node, list):
        return [_to_openapi30(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _to_openapi30(v) for k, v in node.items() if k != "root_input"}
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            options = [o for o in options if o != {"type": "null"}]
            node["nullable"] = True
            if len(options) == 1:
                node.pop(key)
                node.update({k: v for k, v in options[0].items() if k not in node})
            else:
                node[key] = options
    if node.get("type") == "null":
        node.pop("type")
        node["nullable"] = True
    if "default" in node and node["default"] is None and ("type" in node or "$ref" in node):
        node["nullable"] = True
    if "$ref" in node and len(node) > 1:  # siblings of $ref are ignored in 3.0
        node = {"allOf": [{"$ref": node.pop("$ref")}], **node}
    for bound, inclusive in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        value = node.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[inclusive] = value
            node[bound] = True
    return node


class DocumentedErrors:
    """Serve :func:`document`'s rewrite of BentoML's ``/docs.json``."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or Settings.from_env()
        self._cached: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in DOC_PATHS:
            await self.app(scope, receive, send)
            return
        if self._cached is None:
            start: Message = {}
            chunks: list[bytes] = []

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                else:
                    chunks.append(message.get("body", b""))

            await self.app(scope, receive, capture)
            if start.get("status") != 200:
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks)})
                return
            spec = json.loads(b"".join(chunks))
            self._cached = json.dumps(document(spec, self.settings)).encode()
        body = self._cached
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
