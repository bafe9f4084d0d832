"""The Host-header allow-list (KIZUNA_ALLOWED_HOSTS) and the relative /report redirect, in-process.

The same rules against a real server on loopback: ``test_http_hosts.py``.
"""

from __future__ import annotations

import re
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
from kizuna.serving.config import Settings
from kizuna.serving.hosts import LOOPBACK_HOSTS, allowed_hosts, host_matches, host_name


@pytest.mark.parametrize(
    "header, name",
    [
        ("localhost:3000", "localhost"),
        ("LocalHost.", "localhost"),
        ("[::1]:3000", "::1"),
        ("[::1]", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        (" api.example.com:443 ", "api.example.com"),
        ("", ""),
    ],
)
def test_host_name_drops_port_brackets_case_and_final_dot(header, name):
    assert host_name(header) == name


def test_host_matches_names_and_domains():
    patterns = ("api.example.com", "*.svc.local")
    assert host_matches("api.example.com", patterns)
    assert host_matches("kizuna.svc.local", patterns)
    assert host_matches("a.b.svc.local", patterns)
    assert not host_matches("svc.local", patterns)  # the domain itself is not under it
    assert not host_matches("evilsvc.local", patterns)
    assert not host_matches("api.example.com.evil.net", patterns)


def test_the_default_is_loopback_without_a_key_and_any_host_with_one():
    assert allowed_hosts(Settings.from_env({})) == LOOPBACK_HOSTS
    assert allowed_hosts(Settings.from_env({"KIZUNA_ALLOWED_HOSTS": " "})) == LOOPBACK_HOSTS
    assert allowed_hosts(Settings.from_env({"KIZUNA_API_KEY": "k"})) is None
    assert allowed_hosts(Settings.from_env({"KIZUNA_ALLOWED_HOSTS": "*"})) is None
    # An explicit list wins over the key's "any".
    given = {"KIZUNA_API_KEY": "k", "KIZUNA_ALLOWED_HOSTS": "API.example.com., [::1], *.svc"}
    assert allowed_hosts(Settings.from_env(given)) == ("api.example.com", "::1", "*.svc")


@pytest.mark.parametrize("value", ["localhost:3000", "http://a.example", "*example.com"])
def test_a_host_with_a_port_or_scheme_is_refused_naming_the_variable(value):
    with pytest.raises(KizunaInputError, match=f"KIZUNA_ALLOWED_HOSTS.*{re.escape(value)}"):
        Settings.from_env({"KIZUNA_ALLOWED_HOSTS": f"ok.example, {value}"})


def guarded(base_url: str = "http://127.0.0.1:3000", **env: str) -> TestClient:
    from kizuna.serving.middleware import KizunaGuards

    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    routes = [Route(p, ok, methods=["GET", "POST"]) for p in ("/status", "/livez", "/metrics")]
    app = Starlette(routes=routes)
    app.add_middleware(KizunaGuards, settings=Settings.from_env(env))
    # The base URL's host is the scope's "server": the address the connection arrived on
    # (no traffic leaves the process).
    return TestClient(app, base_url=base_url)


def test_without_a_key_a_foreign_host_gets_400_naming_it():
    client = guarded()
    resp = client.post("/status", headers={"host": "rebind.evil.example:3000"})
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json"
    assert '"rebind.evil.example:3000"' in resp.json()["error"]
    assert "KIZUNA_ALLOWED_HOSTS" in resp.json()["error"]
    for host in ("localhost:3000", "127.0.0.1:3000", "[::1]:3000", "LOCALHOST"):
        assert client.post("/status", headers={"host": host}).status_code == 200, host


def test_the_address_the_connection_came_in_on_is_allowed_by_default():
    # A service bound to 0.0.0.0, reached at the machine's address 192.0.2.7.
    client = guarded("http://192.0.2.7:3000")
    assert client.post("/status", headers={"host": "192.0.2.7:3000"}).status_code == 200
    assert client.post("/status", headers={"host": "192.0.2.8:3000"}).status_code == 400
    listed = guarded("http://192.0.2.7:3000", KIZUNA_ALLOWED_HOSTS="api.example.com")
    assert listed.post("/status", headers={"host": "192.0.2.7"}).status_code == 400
    assert listed.post("/status", headers={"host": "api.example.com"}).status_code == 200
    assert listed.post("/status", headers={"host": "localhost"}).status_code == 400


def test_probes_and_metrics_answer_any_host():
    client = guarded()
    for path in ("/livez", "/metrics"):
        assert client.get(path, headers={"host": "10.1.2.3:3000"}).status_code == 200, path


def test_a_key_allows_any_host_and_the_key_is_still_checked():
    client = guarded(KIZUNA_API_KEY="k")
    assert client.post("/status", headers={"host": "kizuna.prod"}).status_code == 401
    headers = {"host": "kizuna.prod", "x-api-key": "k"}
    assert client.post("/status", headers=headers).status_code == 200


def test_the_host_is_checked_before_cors_and_the_key():
    client = guarded(KIZUNA_API_KEY="k", KIZUNA_ALLOWED_HOSTS="api.example.com",
                     KIZUNA_CORS_ORIGINS="https://shop.example")  # fmt: skip
    preflight = {
        "host": "evil.example",
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
    }
    assert client.options("/status", headers=preflight).status_code == 400


def test_report_redirects_relatively_keeping_the_query():
    client = guarded()
    resp = client.get("/report?week=3&x=%20", follow_redirects=False)
    assert resp.status_code == 307
    assert resp.headers["location"] == "./report/?week=3&x=%20"
    plain = client.get("/report", follow_redirects=False)
    assert plain.headers["location"] == "./report/"
    assert client.get("/report/x", follow_redirects=False).status_code == 404  # not redirected
