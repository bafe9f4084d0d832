"""The real service over HTTP: a ``bentoml serve`` subprocess on loopback.

Every endpoint is called with BentoML's own client. Bad input is in
``test_http_input.py``, crashes and reloads in ``test_http_reload.py``; the
server starts once per session (see conftest).
"""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from tests.serving.loopback import MARKER

# BentoML's client triggers deprecation warnings inside pathspec and pydantic; not ours.
pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


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
    assert "text/html" in spec["paths"]["/report/"]["get"]["responses"]["200"]["content"]
    assert raw.get("/report/").status_code in (200, 404)  # the page, or where to write it


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


def test_a_control_share_without_a_campaign_is_refused_naming_the_field(raw, known):
    resp = raw.post("/next_best_offer", json={"customer_id": known[0], "control_share": 0.2})
    assert resp.status_code == 422, resp.text
    assert [d["loc"] for d in resp.json()["detail"]] == ["body.campaign_id"]
