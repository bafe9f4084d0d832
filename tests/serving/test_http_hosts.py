"""The Host allow-list and the /report redirect on real servers on loopback.

The session server (conftest) has an API key, so any Host is allowed; the
server started here has none, so only loopback names and its own address are.
"""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.serving.loopback import start_server

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

REBOUND = "rebind.evil.example"


@pytest.fixture(scope="module")
def keyless(model_set, tmp_path_factory):
    """No API key, KIZUNA_ALLOWED_HOSTS unset: the default allow-list."""
    folder = tmp_path_factory.mktemp("keyless")
    shutil.copytree(model_set.folder, folder / "models")
    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(folder / "models"),
            "KIZUNA_EVENT_STORE": str(folder / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(folder / "contacts.sqlite"),
            "KIZUNA_REPORT": str(folder / "report.html"),
        },
        folder / "server.log",
    )
    yield srv
    srv.stop()


def test_a_rebound_name_gets_400_naming_the_host(keyless):
    with httpx.Client(base_url=keyless.url, timeout=30) as c:
        host = f"{REBOUND}:{keyless.port}"
        for method, path in (("POST", "/status"), ("GET", "/docs.json"), ("GET", "/report/")):
            resp = c.request(method, path, headers={"host": host})
            assert resp.status_code == 400, (path, resp.text)
            assert resp.headers["content-type"] == "application/json"
            assert f'"{host}"' in resp.json()["error"] and "\n" not in resp.text
        for name in ("127.0.0.1", "localhost", "[::1]"):
            resp = c.post("/status", headers={"host": f"{name}:{keyless.port}"})
            assert resp.status_code == 200, (name, resp.text)


def test_probes_and_metrics_answer_any_host(keyless):
    with httpx.Client(base_url=keyless.url, timeout=30) as c:
        for path in ("/livez", "/healthz", "/readyz", "/metrics"):
            resp = c.get(path, headers={"host": "kizuna.default.svc:3000"})
            assert resp.status_code == 200, (path, resp.text)


def test_with_an_api_key_any_host_is_allowed(raw):
    resp = raw.post("/status", headers={"host": "kizuna.prod.example"})
    assert resp.status_code == 200, resp.text
    no_key = httpx.post(str(raw.base_url) + "/status", headers={"host": "kizuna.prod.example"})
    assert no_key.status_code == 401


def test_report_redirect_is_relative_whatever_the_host(raw):
    resp = raw.get("/report?week=49", headers={"host": REBOUND}, follow_redirects=False)
    assert resp.status_code == 307
    assert resp.headers["location"] == "./report/?week=49"
    assert raw.get("/report", follow_redirects=False).headers["location"] == "./report/"
    followed = raw.get("/report?week=49", follow_redirects=True)  # resolved against the URL
    assert followed.url.path == "/report/" and followed.url.query == b"week=49"
    assert followed.status_code in (200, 404)  # the page, or where to write it
