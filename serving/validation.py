"""Request bodies checked before BentoML sees them: 422 with each field's path.

BentoML answers a body its request model refuses with 400, a message naming
its internal wrapper class, and a full traceback in the log. This middleware
validates the same strict models (:mod:`serving.schemas`) first, so a client
error is answered here:

- malformed JSON: 400, ``{"error": "malformed JSON: ..."}``;
- any field error (wrong type, out of range, unknown field, too many items):
  422, ``{"error": "...", "detail": [{"loc": "body.events[3].quantity",
  "msg": ..., "type": ...}]}``;

and logged as one INFO line naming the fields, never their values. A body
that passes goes on to BentoML unchanged, and the validated request model
travels with it in the ASGI scope (:data:`VALIDATED`):
:func:`use_validated_requests` makes each endpoint take that object instead of
parsing and validating the body a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from kizuna.serving import schemas as api
from kizuna.serving.auth import ASGIApp, Message, Receive, Scope, Send, send_json
from kizuna.serving.config import Settings

logger = logging.getLogger("bentoml.kizuna")

#: ASGI scope key of the request model validated here, read by the endpoint's input spec.
VALIDATED = "kizuna.validated_request"

#: The request model of each endpoint; None: the endpoint takes no fields.
REQUEST_MODELS: dict[str, type[BaseModel] | None] = {
    "/recommend": api.RecommendRequest,
    "/similar_items": api.SimilarItemsRequest,
    "/churn_score": api.ChurnRequest,
    "/ltv": api.LTVRequest,
    "/customer": api.CustomerRequest,
    "/next_best_offer": api.NextBestOfferRequest,
    "/events": api.EventsRequest,
    "/audience": api.AudienceRequest,
    "/reload": None,
    "/status": None,
}


class _NoFields(BaseModel):
    model_config = api.Request.model_config


def field_path(loc: tuple[Any, ...]) -> str:
    """``("events", 3, "quantity")`` -> ``"body.events[3].quantity"``.

    Parameters
    ----------
    loc
        A pydantic error location.

    Returns
    -------
    str
    """
    out = "body"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Each error as its path, message and type; never the input value.

    Parameters
    ----------
    exc
        The pydantic validation error.

    Returns
    -------
    list of dict
        ``loc``, ``msg``, ``type`` per error.
    """
    return [
        {"loc": field_path(tuple(e["loc"])), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def limit_errors(request: BaseModel, settings: Settings) -> list[dict[str, str]]:
    """Batch sizes from the settings (not part of the models, which are fixed at import).

    Parameters
    ----------
    request
        The validated request.
    settings
        The service settings.

    Returns
    -------
    list of dict
        As :func:`field_errors`.
    """
    out = []
    for field, limit, variable in (
        ("customer_ids", settings.max_batch, "KIZUNA_MAX_BATCH"),
        ("events", settings.max_events, "KIZUNA_MAX_EVENTS"),
    ):
        n = len(getattr(request, field, ()) or ())
        if n > limit:
            out.append(
                {
                    "loc": f"body.{field}",
                    "msg": f"List should have at most {limit:,} items, not {n:,} ({variable}); "
                    "split the batch",
                    "type": "too_long",
                }
            )
    return out


def check_body(
    path: str, body: bytes, settings: Settings, models: Mapping[str, type[BaseModel] | None]
) -> tuple[int, dict[str, Any]] | None:
    """None if ``body`` is a valid request for ``path``, else (status, JSON answer).

    Parameters
    ----------
    path
        The endpoint's path.
    body
        The raw request body.
    settings
        The service settings.
    models
        Endpoint path -> its request model (None: no body checked).

    Returns
    -------
    (int, dict) or None
    """
    return parse_body(path, body, settings, models)[1]


def parse_body(
    path: str, body: bytes, settings: Settings, models: Mapping[str, type[BaseModel] | None]
) -> tuple[BaseModel | None, tuple[int, dict[str, Any]] | None]:
    """(the request model, None) for a valid body, else (None, (status, JSON answer)).

    Parameters
    ----------
    path
        The endpoint's path.
    body
        The raw request body.
    settings
        The service settings.
    models
        Endpoint path -> its request model (None: no body checked).

    Returns
    -------
    (BaseModel or None, (int, dict) or None)
    """
    model = models[path] or _NoFields
    try:
        request = model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        errors = field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return None, (400, {"error": f"malformed JSON: {errors[0]['msg']}"})
        return None, (422, _answer(errors))
    errors = limit_errors(request, settings)
    return (None, (422, _answer(errors))) if errors else (request, None)


def use_validated_requests(apis: Mapping[str, Any]) -> None:
    """Let each endpoint take the request model validated here instead of parsing the body again.

    BentoML parses every body into its endpoint's input spec (a subclass of
    the endpoint's request model) with ``from_http_request``. For each
    endpoint that takes one request model, that class method now returns the
    object :class:`RequestValidationMiddleware` stored in the scope, when it
    is an instance of the same model, and parses as before otherwise.
    Idempotent.

    Parameters
    ----------
    apis
        Endpoint name -> BentoML API method (``KizunaService.apis``).
    """
    for method in apis.values():
        spec = method.input_spec
        if not getattr(spec, "__root_input__", False) or getattr(spec, "kizuna_validated", False):
            continue
        parse = spec.from_http_request

        async def from_http_request(cls: Any, request: Any, serde: Any, _parse: Any = parse) -> Any:
            validated = request.scope.get(VALIDATED)
            if validated is not None and issubclass(cls, type(validated)):
                return validated
            return await _parse(request, serde)

        spec.from_http_request = classmethod(from_http_request)
        spec.kizuna_validated = True


def _answer(errors: list[dict[str, str]]) -> dict[str, Any]:
    shown = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors[:5])
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    noun = "field" if len(errors) == 1 else "fields"
    return {"error": f"{len(errors)} invalid {noun}: {shown}{more}", "detail": errors}


class RequestValidationMiddleware:
    """Validate POST bodies of the service's endpoints against their strict models.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    settings
        Batch limits; read from the environment when None.
    models
        Path -> request model; default :data:`REQUEST_MODELS`.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        models: Mapping[str, type[BaseModel] | None] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings or Settings.from_env()
        self.models = REQUEST_MODELS if models is None else models

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "POST" or path not in self.models:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        request, refused = parse_body(path, body, self.settings, self.models)
        if refused is not None:
            status, answer = refused
            fields = ", ".join(e["loc"] for e in answer.get("detail", [])[:10]) or "body"
            # Field names come from the client: escaped, so a name holding a line break cannot
            # write a line of its own into the log.
            fields = fields.encode("unicode_escape").decode("ascii")[:500]
            logger.info("%d POST %s refused: %s", status, path, fields)
            await send_json(send, status, answer)
            return
        if self.models[path] is not None:
            scope[VALIDATED] = request  # the endpoint takes it: no second parse
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                # An endpoint without fields gets `{}` whatever harmless body came.
                return {
                    "type": "http.request",
                    "body": body if self.models[path] is not None else b"{}",
                    "more_body": False,
                }
            return await receive()

        await self.app(scope, replay, send)
