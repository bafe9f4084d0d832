"""The service under attack and faults: strict input, probes with reasons, bounded
metrics, quiet logs, connection timeouts, CORS, a valid OpenAPI document.

Two real servers on loopback: the session server (API key set, see conftest)
and a second one started here without a key, with CORS, short timeouts and a
corrupt churn model (so only the churn endpoints are down).
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import uuid

import httpx
import pytest

from tests.serving.loopback import AUTH, start_server

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ORIGIN = "https://shop.example"
TIMEOUT = 2  # KIZUNA_BODY_TIMEOUT / KIZUNA_HEADER_TIMEOUT of the second server
MARKER = "SECRET-BODY-\u6771\u4eac-0815"


@pytest.fixture(scope="module")
def degraded(model_set, tmp_path_factory):
    """No API key, CORS for ORIGIN, 2 s timeouts, and a truncated churn model file."""
    folder = tmp_path_factory.mktemp("degraded")
    shutil.copytree(model_set.folder, folder / "models")
    bundle = folder / "models" / "churn" / "bundle.joblib"
    bundle.write_bytes(bundle.read_bytes()[:200])
    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(folder / "models"),
            "KIZUNA_EVENT_STORE": str(folder / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(folder / "contacts.sqlite"),
            "KIZUNA_CORS_ORIGINS": f"{ORIGIN}, https://other.example",
            "KIZUNA_BODY_TIMEOUT": str(TIMEOUT),
            "KIZUNA_HEADER_TIMEOUT": str(TIMEOUT),
        },
        folder / "server.log",
    )
    yield srv
    srv.stop()


def known_customer(model_set) -> str:
    tx = model_set.transactions
    return str(tx.loc[tx["quantity"] > 0, "customer_id"].value_counts().index[0])


# --- strict input ------------------------------------------------------------------------


def test_field_errors_name_the_path_and_no_internal_class(raw):
    good = {
        "customer_id": "C1",
        "order_id": "O1",
        "item_id": "I00001",
        "timestamp": "2024-06-30T10:00:00",
        "quantity": 1,
        "unit_price": 2.0,
    }
    lines = [good, good, good, {**good, "quantity": "2"}]
    resp = raw.post("/events", json={"events": lines})
    assert resp.status_code == 422, resp.text
    assert [e["loc"] for e in resp.json()["detail"]] == ["body.events[3].quantity"]
    assert "IODescriptor" not in resp.text


def test_media_type_is_case_insensitive(raw, model_set):
    body = json.dumps({"customer_id": known_customer(model_set), "k": 3})
    for media_type in ("Application/JSON", "APPLICATION/JSON; charset=UTF-8"):
        resp = raw.post("/recommend", content=body, headers={"content-type": media_type})
        assert resp.status_code == 200, (media_type, resp.text)


def test_identical_lines_in_one_request_are_stored_once(raw, model_set):
    as_of = raw.post("/status").json()["as_of"]
    line = {
        "customer_id": known_customer(model_set),
        "order_id": f"DUP-{uuid.uuid4().hex[:8]}",
        "item_id": "I00002",
        "timestamp": as_of,
        "quantity": 1,
        "unit_price": 4.0,
    }
    resp = raw.post("/events", json={"events": [line, line, line]})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["stored"], resp.json()["duplicates"]) == (1, 2)


def test_unknown_channel_lists_the_known_ones(raw, model_set):
    resp = raw.post(
        "/next_best_offer", json={"customer_id": known_customer(model_set), "channel": "fax"}
    )
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == "body.channel"
    assert "email" in resp.json()["error"] and "phone" in resp.json()["error"]
    ok = raw.post(
        "/next_best_offer", json={"customer_id": known_customer(model_set), "channel": "email"}
    )
    assert ok.status_code == 200, ok.text


# --- logs ---------------------------------------------------------------------------------


def test_a_client_error_is_one_quiet_line_without_the_body(server, raw):
    before = server.log.read_text(encoding="utf-8", errors="replace")
    raw.post("/recommend", json={"customer_id": MARKER, "k": 0})
    raw.post("/status", json={"secret": MARKER})
    raw.post("/reload", json={"secret": MARKER})
    time.sleep(0.5)
    new = server.log.read_text(encoding="utf-8", errors="replace")[len(before) :]
    assert MARKER not in new
    assert "Traceback" not in new and "[ERROR]" not in new
    refused = [line for line in new.splitlines() if "refused" in line]
    assert len(refused) == 3 and all("[INFO]" in line for line in refused)


# --- probes, degraded models, reload --------------------------------------------------------


def test_a_broken_model_kind_takes_down_only_its_endpoints(degraded, model_set):
    cid = known_customer(model_set)
    ready = httpx.get(degraded.url + "/readyz")
    assert ready.status_code == 200
    assert "churn model version 1" in ready.json()["degraded"]["churn"]
    assert (
        httpx.post(degraded.url + "/churn_score", json={"customer_ids": [cid]}).status_code == 503
    )
    assert httpx.post(degraded.url + "/ltv", json={"customer_ids": [cid]}).status_code == 200
    assert httpx.post(degraded.url + "/recommend", json={"customer_id": cid}).status_code == 200


def test_a_failed_reload_is_503_naming_model_and_version(server, raw, tmp_path):
    models = server.env["KIZUNA_MODEL_SOURCE"]
    bundle = f"{models}/ltv/bundle.joblib"
    saved = tmp_path / "bundle.joblib"
    shutil.copy(bundle, saved)
    try:
        with open(bundle, "r+b") as fh:
            fh.truncate(100)
        resp = raw.post("/reload")
        assert resp.status_code == 503, resp.text
        error = resp.json()["error"]
        assert "ltv model version" in error and "EOFError:" not in error
        assert raw.post("/ltv", json={"customer_ids": ["C1"]}).status_code == 200  # old models
    finally:
        shutil.copy(saved, bundle)
    assert raw.post("/reload").status_code == 200


def test_readyz_gives_the_reason(tmp_path):
    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(tmp_path / "no-models-here"),
            "KIZUNA_EVENT_STORE": str(tmp_path / "events.sqlite"),
            "KIZUNA_EXPERIMENT": "not-trained-yet",  # whose contact log: known before models
        },
        tmp_path / "server.log",
        probe="/livez",
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            resp = httpx.get(srv.url + "/readyz")
            if "model folder not found" in resp.text:
                break
            time.sleep(0.3)
        assert resp.status_code == 503
        assert resp.json()["ready"] is False
        assert "model folder not found" in resp.json()["reason"]
    finally:
        srv.stop()


# --- metrics -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["with API key", "without API key"])
def test_metrics_stay_small_after_random_unknown_paths(server, degraded, which):
    srv, headers = (server, AUTH) if which == "with API key" else (degraded, {})
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        for _ in range(10_000):
            c.get(f"/{uuid.uuid4().hex}")
        metrics = c.get("/metrics", headers=headers)
    assert metrics.status_code == 200
    assert len(metrics.content) < 1_000_000, len(metrics.content)
    assert 'endpoint="/{unknown}"' in metrics.text


# --- connections -------------------------------------------------------------------------


def _closed_within(port: int, payload: bytes, seconds: float) -> tuple[bool, bytes]:
    """Send ``payload`` and wait; (closed by the server in time, what it sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(payload)
        received = b""
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except TimeoutError:
            return False, received
        return True, received


def test_a_half_sent_body_is_closed_within_the_timeout(degraded):
    head = (
        b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    started = time.monotonic()
    closed, received = _closed_within(degraded.port, head + b'{"customer_id":', TIMEOUT + 3)
    assert closed and time.monotonic() - started < TIMEOUT + 3
    assert received.startswith(b"HTTP/1.1 408")


def test_idle_and_half_sent_headers_are_closed_within_the_timeout(degraded):
    for payload in (b"", b"POST /recommend HTTP/1.1\r\nHost: x\r\n"):
        started = time.monotonic()
        closed, _ = _closed_within(degraded.port, payload, TIMEOUT + 3)
        assert closed, payload
        assert time.monotonic() - started < TIMEOUT + 3


# --- CORS and docs --------------------------------------------------------------------------


def test_cors_preflight_and_allowed_origin(degraded, model_set):
    preflight = httpx.options(
        degraded.url + "/recommend",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-api-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    resp = httpx.post(
        degraded.url + "/recommend",
        json={"customer_id": known_customer(model_set)},
        headers={"Origin": ORIGIN},
    )
    assert resp.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.options(
        degraded.url + "/recommend",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers


def test_openapi_document_is_valid_3_0(raw):
    from openapi_spec_validator import validate

    spec = raw.get("/docs.json").json()
    validate(spec)
    assert spec["openapi"].startswith("3.0.")
    assert spec["info"]["title"] == "kizuna" and spec["info"]["version"] not in ("None", "")
    text = json.dumps(spec)
    assert "IODescriptor" not in text and "created with BentoML" not in spec["info"]["description"]
    post = spec["paths"]["/next_best_offer"]["post"]
    assert post["requestBody"]["required"] is True
    assert {"401", "413", "415", "422", "503"} <= set(post["responses"])
    share = post["requestBody"]["content"]["application/json"]["schema"]["properties"][
        "control_share"
    ]
    assert share["maximum"] == 1 and share["exclusiveMaximum"] is True
    reload = spec["paths"]["/reload"]["post"]["responses"]["200"]["content"]["application/json"]
    assert reload["schema"]["properties"]["error"]["nullable"] is True
    events = spec["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]
    assert events["schema"]["properties"]["events"]["maxItems"] == 1000
