"""Each request body is parsed and validated once: by the middleware, handed to the endpoint."""

from __future__ import annotations

import warnings

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette now prefers httpx2 for its test client
    from starlette.testclient import TestClient

from kizuna.serving import schemas as api
from kizuna.serving.config import Settings
from kizuna.serving.validation import (
    REQUEST_MODELS,
    VALIDATED,
    RequestValidationMiddleware,
    use_validated_requests,
)


@pytest.fixture(scope="module")
def apis():
    from kizuna.serving.service import KizunaService  # importing it patches the specs

    return KizunaService.apis


def test_every_endpoint_is_validated_with_its_own_request_model(apis) -> None:
    assert set(REQUEST_MODELS) == {f"/{name}" for name in apis}
    for name, method in apis.items():
        model = REQUEST_MODELS[f"/{name}"]
        if model is None:  # /reload, /status take no fields
            assert not getattr(method.input_spec, "__root_input__", False)
        else:
            assert issubclass(method.input_spec, model), name
            assert method.input_spec.kizuna_validated


def _app(apis, name: str) -> TestClient:
    """The middleware around a route that reads its body as BentoML's endpoint does."""
    from _bentoml_impl.serde import JSONSerde

    spec = apis[name].input_spec

    async def endpoint(request: Request) -> JSONResponse:
        parsed = await spec.from_http_request(request, JSONSerde())
        handed = request.scope.get(VALIDATED)
        return JSONResponse({"type": type(parsed).__name__, "handed": parsed is handed})

    app = Starlette(routes=[Route(f"/{name}", endpoint, methods=["POST"])])
    return TestClient(RequestValidationMiddleware(app, Settings(max_batch=3)))


def test_the_endpoint_takes_the_validated_request_and_parses_nothing(apis, monkeypatch) -> None:
    calls: list[str] = []
    parse = api.RecommendRequest.model_validate_json.__func__

    def counting(cls, data, **kwargs):
        calls.append(cls.__name__)
        return parse(cls, data, **kwargs)

    monkeypatch.setattr(api.RecommendRequest, "model_validate_json", classmethod(counting))
    client = _app(apis, "recommend")
    out = client.post("/recommend", json={"customer_id": "C1", "k": 3})
    assert out.status_code == 200, out.text
    assert out.json() == {"type": "RecommendRequest", "handed": True}
    assert calls == ["RecommendRequest"]  # the middleware's parse, and no other
    refused = client.post("/recommend", json={"customer_id": "C1", "k": 0})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == "body.k"


def test_a_body_without_the_middleware_is_still_parsed_by_the_endpoint(apis) -> None:
    from _bentoml_impl.serde import JSONSerde

    spec = apis["churn_score"].input_spec

    async def endpoint(request: Request) -> JSONResponse:
        parsed = await spec.from_http_request(request, JSONSerde())
        return JSONResponse({"ids": parsed.customer_ids})

    app = Starlette(routes=[Route("/churn_score", endpoint, methods=["POST"])])
    out = TestClient(app).post("/churn_score", json={"customer_ids": ["a", "b"]})
    assert out.json() == {"ids": ["a", "b"]}


def test_handing_over_is_installed_once(apis) -> None:
    spec = apis["ltv"].input_spec
    installed = spec.from_http_request
    use_validated_requests(apis)
    assert spec.from_http_request == installed
