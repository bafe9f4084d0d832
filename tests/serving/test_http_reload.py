"""The real service survives a crash with its events, and reloads under traffic fail nothing."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.serving.loopback import AUTH

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


# --- durability and reloads ----------------------------------------------------------------


def test_events_survive_a_crash_and_restart(server, client, known):
    cid = known[6]
    item = client.recommend({"customer_id": cid, "k": 1})["items"][0]["item_id"]
    when = pd.Timestamp(client.status()["as_of"]) + pd.Timedelta(hours=1)
    out = client.events(
        {
            "events": [
                {
                    "customer_id": cid,
                    "order_id": "CRASH-1",
                    "item_id": item,
                    "timestamp": when.isoformat(),
                    "quantity": 2,
                    "unit_price": 1.25,
                }
            ]
        }
    )
    assert out["stored"] == 1
    loaded_before = client.status()["loaded_at"]
    server.restart(crash=True)  # SIGKILL right after the 200: no clean shutdown
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as fresh:
        status = fresh.post("/status").json()
        assert status["loaded_at"] != loaded_before  # a new process answers
        assert status["events_applied"] >= 1  # this one (and any an earlier test stored)
        profile = fresh.post("/customer", json={"customer_id": cid}).json()
        # The snapshot's as_of stands; a purchase at or after it counts as just before it.
        assert pd.Timestamp(profile["as_of"]) == pd.Timestamp(status["as_of"])
        assert profile["recency_days"] < 1e-3
        recs = fresh.post("/recommend", json={"customer_id": cid, "k": 10}).json()
        assert item not in [i["item_id"] for i in recs["items"]]


def _traffic(url: str, known: list[str], stop: threading.Event, seen: list) -> None:
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as c:
        i = 0
        while not stop.is_set():
            cid = known[i % len(known)]
            for path, body in (
                ("/recommend", {"customer_id": cid, "k": 5}),
                ("/churn_score", {"customer_ids": [cid]}),
            ):
                resp = c.post(path, json=body)
                seen.append((resp.status_code, resp.json().get("model_versions")))
            i += 1


def test_hot_reload_under_traffic_fails_no_request(server, raw, known):
    folder = Path(server.env["KIZUNA_MODEL_SOURCE"])
    versions_file = folder / "versions.json"
    original = versions_file.read_text()
    stop, seen = threading.Event(), []
    threads = [
        threading.Thread(target=_traffic, args=(server.url, known, stop, seen)) for _ in range(4)
    ]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        for version in (2, 3):
            tmp = folder / "versions.tmp"
            tmp.write_text(json.dumps({"recommender": version, "churn": version, "ltv": version}))
            tmp.replace(versions_file)
            out = raw.post("/reload").json()
            assert out["reloaded"], out
            assert out["model_versions"]["churn"] == version
            time.sleep(0.5)
        # A model that cannot load: the old one keeps serving, the failure is reported.
        bundle = folder / "ltv" / "bundle.joblib"
        good = bundle.read_bytes()
        bundle.write_bytes(b"not a joblib file")
        try:
            failed = raw.post("/reload").json()
        finally:
            bundle.write_bytes(good)
        assert not failed["reloaded"] and failed["error"]
        assert failed["model_versions"]["churn"] == 3
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        versions_file.write_text(original)
    statuses = [code for code, _ in seen]
    assert len(statuses) > 50 and set(statuses) == {200}
    reported = {v["churn"] for _, v in seen}
    assert {2, 3} <= reported  # requests saw the swaps
    assert raw.post("/status").json()["last_reload_error"]


@pytest.mark.slow
def test_readyz_stays_red_while_nothing_can_load(tmp_path):
    from tests.serving.loopback import start_server

    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(tmp_path / "no-models"),
            "KIZUNA_EVENT_STORE": str(tmp_path / "events.sqlite"),
            "KIZUNA_EXPERIMENT": "not-trained-yet",  # whose contact log: known before models
        },
        tmp_path / "server.log",
        probe="/livez",
    )
    try:
        time.sleep(1.0)
        assert httpx.get(srv.url + "/readyz").status_code == 503
        resp = httpx.post(srv.url + "/recommend", json={"customer_id": "C1"})
        assert resp.status_code == 503 and "model folder not found" in resp.json()["error"]
        status = httpx.post(srv.url + "/status").json()
        assert not status["ready"] and "model folder not found" in status["last_reload_error"]
        reload = httpx.post(srv.url + "/reload").json()
        assert not reload["reloaded"] and reload["error"]
    finally:
        srv.stop()
