"""API key, body size and media type guards, and the settings they read."""

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

from kizuna.features.errors import KizunaInputError
from kizuna.serving.auth import ApiKeyMiddleware, RequestLimitMiddleware, key_matches, presented_key
from kizuna.serving.config import Settings

KEY = "s3cret-key"


def app_with(api_key: str | None = KEY, max_body_bytes: int = 100) -> TestClient:
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"bytes": len(body)})

    async def probe(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/readyz", probe),
            Route("/livez", probe),
        ]
    )
    app.add_middleware(RequestLimitMiddleware, max_body_bytes=max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, api_key=api_key)  # added last = outermost
    return TestClient(app)


def test_presented_key_reads_both_headers():
    assert presented_key([(b"X-API-Key", b" k1 ")]) == b"k1"
    assert presented_key([(b"authorization", b"Bearer k2")]) == b"k2"
    assert presented_key([(b"authorization", b"Basic abc")]) is None
    assert presented_key([]) is None


def test_key_matches_only_the_exact_key():
    assert key_matches(KEY.encode(), KEY)
    assert not key_matches(KEY.encode()[:-1], KEY)
    assert not key_matches(KEY.encode() + b"x", KEY)
    assert not key_matches(None, KEY)


def test_a_key_set_with_a_stray_space_still_matches():
    from kizuna.serving.config import Settings

    key = Settings.from_env({"KIZUNA_API_KEY": f" {KEY}\n"}).api_key
    assert key == KEY and key_matches(presented_key([(b"X-API-Key", KEY.encode())]), key)


def test_requests_without_the_key_get_401():
    client = app_with()
    assert client.post("/echo", json={}).status_code == 401
    assert client.post("/echo", json={}, headers={"X-API-Key": "wrong"}).status_code == 401
    ok = client.post("/echo", json={}, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200


def test_health_probes_need_no_key():
    client = app_with()
    assert client.get("/readyz").status_code == 200
    assert client.get("/livez").status_code == 200


def test_no_key_configured_means_open():
    assert app_with(api_key=None).post("/echo", json={}).status_code == 200


def test_oversized_bodies_get_413_with_the_limit():
    client = app_with(api_key=None)
    resp = client.post("/echo", content=b"x" * 101, headers={"content-type": "application/json"})
    assert resp.status_code == 413 and "100" in resp.json()["error"]
    chunked = client.post(
        "/echo", content=iter([b"x" * 60, b"x" * 60]), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413
    fits = client.post("/echo", content=b"x" * 100, headers={"content-type": "application/json"})
    assert fits.json() == {"bytes": 100}


def test_non_json_bodies_get_415():
    client = app_with(api_key=None)
    resp = client.post("/echo", data={"a": "b"})
    assert resp.status_code == 415 and "application/json" in resp.json()["error"]
    # a body with no Content-Type: 415 too; a POST with no body (/status) needs none
    assert client.post("/echo", content=b"{}").status_code == 415
    assert client.post("/echo").status_code != 415
    assert (
        client.post(
            "/echo", content=b"{}", headers={"content-type": "application/problem+json"}
        ).status_code
        == 200
    )


def test_settings_from_env_read_and_check_values(tmp_path):
    env = {
        "KIZUNA_MODEL_SOURCE": str(tmp_path),
        "KIZUNA_API_KEY": "k",
        "KIZUNA_MAX_BATCH": "5",
        "KIZUNA_RISK_BANDS": "0.2,0.7",
        "KIZUNA_DATA_DIR": str(tmp_path),
    }
    settings = Settings.from_env(env)
    assert settings.model_source == str(tmp_path) and not settings.from_registry
    assert settings.max_batch == 5 and settings.risk_bands == (0.2, 0.7)
    assert settings.event_store is None  # the experiment's, known once it is resolved
    scoped = settings.for_experiment("shop")
    assert scoped.event_store == tmp_path / "events" / "shop.sqlite"
    assert scoped.contact_log == tmp_path / "contacts" / "shop.sqlite"
    assert scoped.experiment == "shop"
    assert Settings.from_env({}).from_registry and Settings.from_env({}).api_key is None


def test_an_explicit_store_wins_over_the_experiments_own(tmp_path):
    env = {"KIZUNA_EVENT_STORE": str(tmp_path / "e.sqlite"), "KIZUNA_DATA_DIR": str(tmp_path)}
    scoped = Settings.from_env(env).for_experiment("shop")
    assert scoped.event_store == tmp_path / "e.sqlite"
    assert scoped.contact_log == tmp_path / "contacts" / "shop.sqlite"


@pytest.mark.parametrize("name", ["", "../up", "a/b", ".hidden"])
def test_a_name_that_cannot_be_a_file_is_refused(tmp_path, name):
    with pytest.raises(KizunaInputError, match="cannot name a store file"):
        Settings.from_env({"KIZUNA_DATA_DIR": str(tmp_path)}).for_experiment(name)


@pytest.mark.parametrize(
    "name, value",
    [
        ("KIZUNA_MAX_BATCH", "0"),
        ("KIZUNA_MAX_BATCH", "many"),
        ("KIZUNA_RISK_BANDS", "0.7,0.2"),
        ("KIZUNA_RELOAD_POLL_SECONDS", "-1"),
        ("KIZUNA_AUDIENCE_CACHE_BYTES", "-1"),
        ("KIZUNA_AUDIENCE_CACHE_BYTES", "512MB"),
        ("KIZUNA_AUDIENCE_WAIT_SECONDS", "-0.5"),
        ("KIZUNA_AUDIENCE_WAIT_SECONDS", "inf"),
    ],
)
def test_settings_name_the_bad_variable(name, value):
    with pytest.raises(KizunaInputError, match=f"environment variable {name}={value!r}: "):
        Settings.from_env({name: value})


def test_nothing_reads_the_settings_at_import():
    """A malformed variable fails the service at start (naming it), never the import."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "KIZUNA_MAX_BATCH": "many", "KIZUNA_RISK_BANDS": "x"}
    code = "import kizuna.serving.service, kizuna.serving.schemas; print('imported')"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr[-2000:]


def test_settings_read_cors_origins_public_docs_and_timeouts():
    settings = Settings.from_env(
        {
            "KIZUNA_CORS_ORIGINS": "https://a.example, https://b.example",
            "KIZUNA_PUBLIC_DOCS": "true",
            "KIZUNA_BODY_TIMEOUT": "2.5",
        }
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.public_docs and settings.body_timeout == 2.5
    assert Settings.from_env({}).cors_origins == () and not Settings.from_env({}).public_docs
    with pytest.raises(KizunaInputError, match="KIZUNA_BODY_TIMEOUT"):
        Settings.from_env({"KIZUNA_BODY_TIMEOUT": "0"})


def test_settings_read_the_audience_cap_and_wait():
    default = Settings.from_env({})
    assert default.audience_cache_bytes == 512 * 2**20 and default.audience_wait_seconds == 5.0
    settings = Settings.from_env(
        {"KIZUNA_AUDIENCE_CACHE_BYTES": "1048576", "KIZUNA_AUDIENCE_WAIT_SECONDS": "0"}
    )
    assert settings.audience_cache_bytes == 2**20 and settings.audience_wait_seconds == 0.0


def guarded(**env: str) -> TestClient:
    from kizuna.serving.middleware import KizunaGuards

    async def docs(request: Request) -> JSONResponse:
        return JSONResponse({"openapi": "3.0.3"})

    async def status(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/docs.json", docs), Route("/status", status, methods=["POST"])])
    app.add_middleware(KizunaGuards, settings=Settings.from_env(env))
    return TestClient(app)


@pytest.mark.parametrize("public, status", [("false", 401), ("true", 200)])
def test_docs_are_public_with_a_key_only_when_set(public, status):
    client = guarded(KIZUNA_API_KEY=KEY, KIZUNA_PUBLIC_DOCS=public)
    assert client.get("/docs.json").status_code == status
    assert client.post("/status", json={}).status_code == 401  # the API stays locked


def test_cors_preflight_is_answered_before_the_key_check():
    client = guarded(KIZUNA_API_KEY=KEY, KIZUNA_CORS_ORIGINS="https://shop.example")
    headers = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    resp = client.options("/status", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "https://shop.example"
    assert "x-api-key" in resp.headers["access-control-allow-headers"].lower()
    no_cors = guarded(KIZUNA_API_KEY=KEY).options("/status", headers=headers)
    assert "access-control-allow-origin" not in no_cors.headers
