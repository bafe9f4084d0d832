"""Bad input to the real service: always a clear 4xx, never a 5xx; keys; quiet logs."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from bentoml.exceptions import BentoMLException

from tests.serving.loopback import MARKER

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


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


@pytest.mark.parametrize(
    "path, body, loc",
    [
        ("/churn_score", {"customer_ids": []}, "body.customer_ids"),
        ("/ltv", {"customer_ids": []}, "body.customer_ids"),
        ("/events", {"events": []}, "body.events"),
    ],
)
def test_an_empty_batch_names_its_field_like_any_invalid_field(raw, path, body, loc):
    resp = raw.post(path, json=body)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert [d["loc"] for d in detail] == [loc] and "must hold 1 to" in detail[0]["msg"]


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
    for bad_line, field in (
        ({**good, "unit_price": 0}, "unit_price"),
        ({**good, "quantity": 0}, "quantity"),
        ({**good, "timestamp": "2999-01-01T00:00:00"}, "timestamp"),
        ({**good, "timestamp": "not a date"}, "timestamp"),
        ({**good, "quantity": "NaN"}, "quantity"),
        ({**good, "timestamp": 1719828000}, "timestamp"),  # epoch seconds: refused as in files
        ({**good, "timestamp": "05/02/2024"}, "timestamp"),  # day/month order undecidable
    ):
        resp = raw.post("/events", json={"events": [good, bad_line]})
        assert 400 <= resp.status_code < 500, resp.text
        if resp.status_code == 422 and "nothing was stored" in resp.text:  # the validator's
            assert [d["loc"] for d in resp.json()["detail"]] == [f"body.events[1].{field}"]
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
    # No Content-Type at all (a cross-site Blob or sendBeacon POST, sent without a
    # preflight): refused, not read as JSON; nothing is stored.
    line = {"customer_id": MARKER, "order_id": "CSRF", "item_id": "I00001",
            "timestamp": "2024-07-01T10:00:00", "quantity": 1, "unit_price": 2.0}  # fmt: skip
    bare = raw.build_request("POST", "/events", content=json.dumps({"events": [line]}))
    assert "content-type" not in bare.headers
    refused = raw.send(bare)
    assert refused.status_code == 415 and "no Content-Type" in refused.text
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


def test_a_field_name_cannot_write_a_line_of_its_own_into_the_log(server, raw):
    forged = "2026-12-03 21:00:00 INFO 200 POST /admin granted to attacker"
    resp = raw.post("/recommend", json={"customer_id": "C1", f"x\n{forged}": 1})
    assert resp.status_code == 422
    time.sleep(0.5)
    lines = server.log.read_text(encoding="utf-8", errors="replace").splitlines()
    assert not any(line.startswith(forged) for line in lines)
    assert any("refused" in line and "\\n" + forged in line for line in lines)
