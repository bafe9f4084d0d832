"""Closing the loop over HTTP: recommendation ids, attribution, audiences, next orders, /report.

Runs against the session's ``bentoml serve`` subprocess (see conftest); the
attribution step runs the real ``kizuna attribution`` command on the server's store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.serving.loopback import AUTH

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def regular(model_set) -> str:
    purchases = model_set.transactions[model_set.transactions["quantity"] > 0]
    return str(purchases.groupby("customer_id")["order_id"].nunique().idxmax())


def test_recommend_purchase_attribution_end_to_end(http, server, regular) -> None:
    answer = http.post("/recommend", json={"customer_id": regular, "k": 3}).json()
    rid = answer["recommendation_id"]
    assert len(rid) == 32
    bought = answer["items"][0]["item_id"]
    when = (pd.Timestamp.now() + pd.Timedelta(minutes=1)).isoformat()
    line = {"customer_id": regular, "order_id": f"attr-{rid[:8]}", "item_id": bought,
            "timestamp": when, "quantity": 2, "unit_price": 12.5, "recommendation_id": rid}  # fmt: skip
    stored = http.post("/events", json={"events": [line]})
    assert stored.status_code == 200, stored.text
    # other placements carry ids too, each its own
    similar = http.post("/similar_items", json={"item_id": bought, "k": 2}).json()
    offer = http.post("/next_best_offer", json={"customer_id": regular, "channel": "email"}).json()
    assert len({rid, similar["recommendation_id"], offer["recommendation_id"]}) == 3
    env = {**os.environ, "KIZUNA_CONTACT_LOG": server.env["KIZUNA_CONTACT_LOG"],
           "KIZUNA_EVENT_STORE": server.env["KIZUNA_EVENT_STORE"]}  # fmt: skip
    since = (pd.Timestamp.now() - pd.Timedelta(hours=1)).isoformat()
    done = subprocess.run(
        [sys.executable, "-m", "kizuna.training.launch", "attribution", "--since", since, "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    version = f"recommender={answer['model_versions']['recommender']}"
    recommend = [r for r in rows if r["placement"] == "recommend" and r["model_version"] == version]
    assert len(recommend) == 1
    assert recommend[0]["conversions"] >= 1
    assert recommend[0]["attributed_revenue"] >= 25.0
    placements = {r["placement"] for r in rows}
    assert {"recommend", "similar_items", "next_best_offer"} <= placements


def test_audience_for_an_item(http, model_set) -> None:
    tx = model_set.transactions
    item = str(tx[tx["quantity"] > 0]["item_id"].value_counts().index[0])
    got = http.post("/audience", json={"item_id": item, "n": 15, "exclude_days": 60})
    assert got.status_code == 200, got.text
    body = got.json()
    people = body["customers"]
    assert len(people) == 15
    scores = [p["score"] for p in people]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= p["p_order"] <= 1 and 0 <= p["affinity"] <= 1 for p in people)
    assert all(any("chance of an order" in r for r in p["reasons"]) for p in people)
    # nobody who bought it in the last 60 days of the data
    t = pd.to_datetime(tx["timestamp"])
    recent = tx[
        (t >= t.max().normalize() + pd.Timedelta(days=1) - pd.Timedelta(days=60))
        & (tx["item_id"].astype(str) == item)
    ]
    assert not {p["customer_id"] for p in people} & set(recent["customer_id"].astype(str))
    assert body["excluded_recent_buyers"] == recent["customer_id"].nunique()
    # refused fields are named, as every 422 names them (README: unknown category is a 422)
    unknown = http.post("/audience", json={"category": "no-such-category"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == "body.category"
    both = http.post("/audience", json={"item_id": item, "category": "x"})
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == "body"
    split = http.post("/audience", json={"item_id": item, "n": 15, "control_share": 0.3})
    assert split.status_code == 422
    assert split.json()["detail"][0]["loc"] == "body.campaign_id"
    split = http.post(
        "/audience", json={"item_id": item, "n": 15, "campaign_id": "c1", "control_share": 0.3}
    )
    groups = [p["group"] for p in split.json()["customers"]]
    assert split.status_code == 200 and split.json()["control"] == groups.count("control")
    # the scores kept for audiences are done, and /status says so
    status = http.post("/status").json()
    kept = status["details"]["audience_scores"]
    assert kept == {"state": "ready", "customers": status["customers"], "scored": kept["scored"]}
    assert kept["scored"] == status["customers"]
    # a 503 while they are computed says when to ask again, and the OpenAPI document says so
    spec = http.get("/docs.json").json()
    pending = spec["paths"]["/audience"]["post"]["responses"]["503"]
    assert (
        "Retry-After" in pending["headers"]
        and "KIZUNA_AUDIENCE_WAIT_SECONDS" in pending["description"]
    )


def test_next_order_fields_in_ltv_and_customer(http, regular) -> None:
    ltv = http.post("/ltv", json={"customer_ids": [regular]}).json()["results"][0]
    p = [ltv["p_order_30d"], ltv["p_order_60d"], ltv["p_order_90d"]]
    assert 0 < p[0] <= p[1] <= p[2] < 1
    assert ltv["next_order_days"] >= 0 and ltv["next_order_date"]
    profile = http.post("/customer", json={"customer_id": regular}).json()
    assert profile["next_order_date"] == ltv["next_order_date"]


def test_report_is_served_behind_the_api_key(server) -> None:
    path = Path(server.env["KIZUNA_REPORT"])
    # /report redirects to /report/ (a mounted app), which browsers follow.
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=True) as anonymous:
        assert anonymous.get("/report").status_code == 401
        path.unlink(missing_ok=True)
        assert anonymous.get("/report", headers=AUTH).status_code == 404
        path.write_text("<!DOCTYPE html><html><body><h1>kizuna report</h1></body></html>")
        page = anonymous.get("/report", headers=AUTH)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "kizuna report" in page.text


def test_global_contact_cap_holds_across_channels(http, model_set) -> None:
    # offers_demo.yaml: at most 2 contacts in 30 days and a week between two, whatever the
    # offer and channel. The first customer who gets an offer by email gets none by app.
    purchases = model_set.transactions[model_set.transactions["quantity"] > 0]
    for cid in purchases["customer_id"].astype(str).unique()[-60:]:
        first = http.post(
            "/next_best_offer", json={"customer_id": cid, "channel": "email", "record": True}
        ).json()
        if first["recorded"]:
            break
    else:
        pytest.skip("no customer of the test shop is eligible for an offer")
    second = http.post(
        "/next_best_offer", json={"customer_id": cid, "channel": "app", "record": True}
    ).json()
    assert second["decisions"][0]["offer_id"] == "no_offer"
    assert any("contact policy" in r for r in second["decisions"][0]["reasons"])
    assert second["recorded"] is False


def test_calls_at_once_cannot_pass_the_contact_cap_together(http, model_set) -> None:
    # Eight recorded calls for one customer at the same instant: the week between two
    # contacts lets exactly one of them through (before, several were recorded).
    from concurrent.futures import ThreadPoolExecutor

    purchases = model_set.transactions[model_set.transactions["quantity"] > 0]
    ids = purchases["customer_id"].astype(str).unique()
    for cid in ids[len(ids) // 2 : len(ids) // 2 + 60]:
        probe = http.post("/next_best_offer", json={"customer_id": cid, "channel": "email"})
        if probe.json()["decisions"][0]["offer_id"] != "no_offer":
            break
    else:
        pytest.skip("no customer of the test shop is eligible for an offer")

    def record(channel: str) -> dict:
        body = {"customer_id": cid, "channel": channel, "record": True}
        return http.post("/next_best_offer", json=body).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(record, ["email", "app"] * 4))
    assert sum(a["recorded"] for a in answers) == 1
