"""The real service over HTTP: a ``bentoml serve`` subprocess on loopback.

Every endpoint is called with BentoML's own client; bad input must give a
4xx, never a 5xx; events survive a crash; a reload under traffic fails no
request. The server starts once per session (see conftest).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from bentoml.exceptions import BentoMLException

from tests.serving.conftest import API_KEY

# BentoML's client triggers deprecation warnings inside pathspec and pydantic; not ours.
pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

MARKER = "Z\u00fcrich-\u6771\u4eac-SECRET-4711"  # must never reach the log
AUTH = {"X-API-Key": API_KEY}


@pytest.fixture(scope="module")
def raw(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def known(model_set) -> list[str]:
    purchases = model_set.transactions[model_set.transactions["quantity"] > 0]
    counts = purchases.groupby("customer_id")["order_id"].nunique().sort_values(ascending=False)
    return [str(c) for c in counts.index[:20]]


@pytest.fixture(scope="module")
def versions(raw) -> dict:
    return raw.post("/status").json()["model_versions"]


# --- every endpoint, through BentoML's client ----------------------------------------


def test_health_probes_need_no_key(server):
    for path in ("/livez", "/healthz", "/readyz"):
        assert httpx.get(server.url + path).status_code == 200


def test_recommend(client, known, versions):
    out = client.recommend({"customer_id": known[0], "k": 5})
    assert len(out["items"]) == 5 and out["fallback"] is False
    assert all(item["reason"] and item["score"] is not None for item in out["items"])
    assert out["model_versions"] == versions


def test_recommend_cold_start(client):
    out = client.recommend({"customer_id": MARKER, "k": 4})
    assert out["fallback"] is True and len(out["items"]) == 4


def test_similar_items(client, raw, known):
    item = client.recommend({"customer_id": known[0], "k": 1})["items"][0]["item_id"]
    out = client.similar_items({"item_id": item, "k": 3})
    assert len(out["items"]) == 3 and item not in [i["item_id"] for i in out["items"]]


def test_churn_score_reports_unknown_ids_per_id(client, known):
    out = client.churn_score({"customer_ids": [known[0], "nobody", known[1]]})
    assert [r["known"] for r in out["results"]] == [True, False, True]
    assert out["unknown"] == 1 and 0 < out["results"][0]["churn_probability"] < 1
    assert out["results"][0]["risk_band"] in {"low", "medium", "high"}
    assert out["results"][0]["reasons"]


def test_churn_score_large_batch(client, known):
    ids = (known * 100)[:2000]  # the configured KIZUNA_MAX_BATCH
    out = client.churn_score({"customer_ids": ids, "top_reasons": 0})
    assert len(out["results"]) == 2000 and out["unknown"] == 0


def test_ltv(client, known):
    out = client.ltv({"customer_ids": [known[2], "nobody"]})
    first = out["results"][0]
    assert first["known"] and first["predicted_value"] >= 0 and 0 <= first["p_alive"] <= 1
    assert not out["results"][1]["known"] and out["horizon_days"] == 90


def test_customer_profile(client, known):
    out = client.customer({"customer_id": known[3]})
    assert out["known"] and out["segment"] and out["rfm_score"]
    assert out["churn_probability"] is not None and out["predicted_value"] is not None
    assert client.customer({"customer_id": "nobody"})["known"] is False


def test_status_and_openapi(client, raw):
    status = client.status()
    assert status["ready"] and status["customers"] > 0
    spec = raw.get("/docs.json").json()
    for path in (
        "/recommend",
        "/similar_items",
        "/churn_score",
        "/ltv",
        "/customer",
        "/events",
        "/reload",
    ):
        assert "post" in spec["paths"][path]


def test_events_take_effect_at_once(client, known):
    cid = known[4]
    item = client.recommend({"customer_id": cid, "k": 1})["items"][0]["item_id"]
    when = pd.Timestamp(client.status()["as_of"]) + pd.Timedelta(hours=2)
    event = {
        "customer_id": cid,
        "order_id": "HTTP-1",
        "item_id": item,
        "timestamp": when.isoformat(),
        "quantity": 1,
        "unit_price": 3.5,
    }
    out = client.events({"events": [event]})
    assert out["stored"] == 1 and out["customers_updated"] == 1
    assert client.events({"events": [event]})["duplicates"] == 1  # a retry stores nothing
    after = client.recommend({"customer_id": cid, "k": 10})
    assert item not in [i["item_id"] for i in after["items"]]
    assert client.customer({"customer_id": cid})["recency_days"] < 1e-3


# --- bad input: always a clear 4xx ------------------------------------------------------

BAD_REQUESTS = [
    ("/recommend", b'{"customer_id": "C1", "k": ', 400, "malformed JSON"),
    ("/recommend", b"[1, 2, 3]", 422, "JSON array instead of an object"),
    ("/recommend", b"", 422, "empty body"),
    # strict types: no string or boolean is read as a number, no number as an id
    ("/recommend", {"customer_id": "C1", "k": "5"}, 422, "k as a string"),
    ("/recommend", {"customer_id": "C1", "k": True}, 422, "k as a boolean"),
    ("/recommend", {"customer_id": "C1", "k": "1_0"}, 422, "k with an underscore"),
    ("/recommend", {"customer_id": "C1", "exclude_purchased": "yes"}, 422, "bool as a string"),
    ("/recommend", b'{"customer_id": NaN}', 422, "NaN as an id"),
    ("/recommend", b'{"customer_id": Infinity}', 422, "Infinity as an id"),
    ("/recommend", b'{"customer_id": 1e309}', 422, "1e309 as an id"),
    ("/recommend", {"customer_id": 12}, 422, "number as an id"),
    ("/recommend", {"customer_id": "C1", "k": "ten"}, 422, "k not a number"),
    ("/recommend", {"customer_id": "C1", "k": 0}, 422, "k below 1"),
    ("/recommend", {"customer_id": "C1", "k": 101}, 422, "k above 100"),
    ("/recommend", {"customer_id": "C1", "k": 2.5}, 422, "k not whole"),
    ("/recommend", {"customer_id": {"a": 1}}, 422, "id an object"),
    ("/recommend", {"customer_id": ""}, 422, "empty id"),
    ("/recommend", {"customer_id": "x" * 10_000}, 422, "very long id"),
    ("/recommend", {"customer_id": "C1", "kk": 3}, 422, "unknown field"),
    (
        "/recommend",
        {"customer_id": "C1", "categories": ["no-such-category"]},
        422,
        "unknown category",
    ),
    ("/recommend", {"customer_id": "C1", "exclude_items": "I1"}, 422, "list given as string"),
    ("/similar_items", {"item_id": "no-such-item"}, 404, "unknown item"),
    ("/churn_score", {"customer_ids": []}, 422, "empty batch"),
    ("/churn_score", {"customer_ids": [f"c{i}" for i in range(2001)]}, 422, "batch over limit"),
    ("/churn_score", {"customer_ids": "C1"}, 422, "ids as a string"),
    ("/churn_score", {"customer_ids": ["C1"], "top_reasons": -1}, 422, "negative reasons"),
    ("/churn_score", {"customer_ids": ["C1"], "top_reasons": 11}, 422, "too many reasons"),
    ("/next_best_offer", {"customer_id": "C1", "control_share": 1.0}, 422, "control share 1"),
    ("/next_best_offer", {"customer_id": "C1", "record": "yes"}, 422, "record as a string"),
    ("/next_best_offer", {"customer_id": "C1", "channel": "pigeon"}, 422, "unknown channel"),
    ("/ltv", {"customer_ids": [None]}, 422, "null id"),
    ("/customer", {}, 422, "missing id"),
    ("/events", {"events": []}, 422, "no events"),
    ("/events", {"events": [{"customer_id": "C1"}]}, 422, "event missing fields"),
]


@pytest.mark.parametrize(
    "path, body, status, case", BAD_REQUESTS, ids=[case for *_, case in BAD_REQUESTS]
)
def test_bad_input_is_a_clear_4xx(raw, path, body, status, case):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = raw.post(path, content=content, headers={"content-type": "application/json"})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]


def test_invalid_events_write_nothing(client, raw):
    before = client.status()["details"]["event_seq"]
    good = {
        "customer_id": MARKER,
        "order_id": "X1",
        "item_id": "I00001",
        "timestamp": "2024-07-01T10:00:00",
        "quantity": 1,
        "unit_price": 2.0,
    }
    for bad_line in (
        {**good, "unit_price": 0},
        {**good, "quantity": 0},
        {**good, "timestamp": "2999-01-01T00:00:00"},
        {**good, "timestamp": "not a date"},
        {**good, "quantity": "NaN"},
        {**good, "timestamp": 1719828000},  # epoch seconds: the files' rule refuses them too
        {**good, "timestamp": "05/02/2024"},  # day/month order undecidable
    ):
        resp = raw.post("/events", json={"events": [good, bad_line]})
        assert 400 <= resp.status_code < 500, resp.text
    assert client.status()["details"]["event_seq"] == before


def test_an_epoch_event_is_refused_naming_the_rule(raw):
    line = {
        "customer_id": MARKER,
        "order_id": "X2",
        "item_id": "I00001",
        "timestamp": 1719828000,
        "quantity": 1,
        "unit_price": 2.0,
    }
    resp = raw.post("/events", json={"events": [line]})
    assert 400 <= resp.status_code < 500 and "ISO 8601" in resp.text, resp.text


def test_oversized_body_is_413(raw):
    resp = raw.post("/churn_score", json={"customer_ids": ["x" * 150] * 1500})
    assert resp.status_code == 413 and "limit" in resp.json()["error"]


def test_non_json_is_415_and_get_is_405(raw):
    assert raw.post("/recommend", data={"customer_id": "C1"}).status_code == 415
    assert raw.get("/recommend").status_code == 405


def test_unicode_ids_are_ordinary_unknown_customers(client):
    out = client.churn_score({"customer_ids": [MARKER, "\U0001f600", "\u00e9\u0301"]})
    assert out["unknown"] == 3


def test_missing_or_wrong_key_is_401(server):
    body = {"customer_id": "C1"}
    assert httpx.post(server.url + "/recommend", json=body).status_code == 401
    wrong = httpx.post(server.url + "/recommend", json=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401
    assert httpx.get(server.url + "/docs.json").status_code == 401
    with pytest.raises(BentoMLException):
        import bentoml

        bentoml.SyncHTTPClient(server.url, token="nope").recommend({"customer_id": "C1"})


def test_customer_data_stays_out_of_the_log(server, raw):
    raw.post("/recommend", json={"customer_id": MARKER, "k": 0})  # refused: logs a traceback
    raw.post("/events", json={"events": [{"customer_id": MARKER}]})
    time.sleep(0.5)
    assert MARKER not in server.log.read_text(encoding="utf-8", errors="replace")


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
        assert status["events_applied"] >= 2  # this one and the earlier test's
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
    from tests.serving.conftest import start_server

    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(tmp_path / "no-models"),
            "KIZUNA_EVENT_STORE": str(tmp_path / "events.sqlite"),
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


def test_next_best_offer_ranks_offers_by_expected_value(client, known):
    out = client.next_best_offer({"customer_id": known[0], "k": 3, "channel": "email"})
    decisions = out["decisions"]
    assert out["known"] is True and out["group"] == "treated"
    assert 1 <= len(decisions) <= 3 and decisions[0]["rank"] == 1
    values = [d["expected_value"] for d in decisions]
    assert values == sorted(values, reverse=True)
    assert all(d["reasons"] for d in decisions)
    if decisions[0]["offer_id"] != "no_offer":
        assert values[0] > 0
    # (the reload tests share this server and move its versions, so only their presence)
    assert set(out["model_versions"]) == {"recommender", "churn", "ltv"}


def test_next_best_offer_records_a_contact_and_the_caps_hold(client, known):
    # Find a customer who gets an offer, record it, and ask again the same day.
    for cid in known[:40]:
        first = client.next_best_offer({"customer_id": cid, "channel": "email", "record": True})
        if first["decisions"][0]["offer_id"] != "no_offer":
            break
    else:
        pytest.fail("no known customer got an offer")
    assert first["recorded"] is True
    again = client.next_best_offer({"customer_id": cid, "channel": "email", "k": 5})
    offered = [d["offer_id"] for d in again["decisions"]]
    assert first["decisions"][0]["offer_id"] not in offered
    # The demo catalogue asks for a week between two contacts: nothing else either.
    assert offered == ["no_offer"]


def test_next_best_offer_holds_out_a_control_group_and_unknown_customers(client, known):
    from kizuna.features.control_groups import in_control

    ids = pd.Series(known[:50])
    held = ids[in_control(ids, "spring", 0.5)].iloc[0]
    out = client.next_best_offer(
        {"customer_id": held, "campaign_id": "spring", "control_share": 0.5}
    )
    assert out["group"] == "control" and out["decisions"][0]["offer_id"] == "no_offer"
    unknown = client.next_best_offer({"customer_id": "nobody-at-all"})
    assert unknown["known"] is False and unknown["decisions"][0]["offer_id"] == "no_offer"
