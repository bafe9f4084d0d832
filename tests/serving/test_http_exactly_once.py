"""A real server: events count exactly once across /reload and restarts; poison lines stay out."""

from __future__ import annotations

import shutil

import httpx
import pandas as pd
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def own_server(model_set, tmp_path_factory):
    """A server of its own (this module restarts it), with the raw order log moved away."""
    from tests.serving.loopback import start_server

    folder = tmp_path_factory.mktemp("once")
    shutil.copytree(model_set.folder, folder / "models")
    hidden = folder / "shop-hidden"
    shutil.move(model_set.shop_dir, hidden)  # the service must not need the raw data
    try:
        srv = start_server(
            {
                "KIZUNA_MODEL_SOURCE": str(folder / "models"),
                "KIZUNA_EVENT_STORE": str(folder / "events.sqlite"),
                "KIZUNA_CONTACT_LOG": str(folder / "contacts.sqlite"),
            },
            folder / "server.log",
        )
        yield srv
        srv.stop()
    finally:
        shutil.move(hidden, model_set.shop_dir)


def _profiles(c: httpx.Client, ids: list[str]) -> dict[str, dict]:
    out = {}
    for cid in ids:
        p = c.post("/customer", json={"customer_id": cid}).json()
        out[cid] = {k: p[k] for k in ("known", "frequency", "monetary_total", "recency_days")}
    return out


def test_events_then_reload_then_restart_count_once_and_keep_every_customer(own_server, model_set):
    tx = model_set.transactions
    ids = [str(c) for c in pd.unique(tx["customer_id"])]
    sample = ids[:: max(1, len(ids) // 40)]
    buyer, others = sample[0], sample[1:]
    with httpx.Client(base_url=own_server.url, timeout=60) as c:
        status = c.post("/status").json()
        n_customers = status["customers"]
        before = _profiles(c, sample)
        when = pd.Timestamp(status["as_of"]) - pd.Timedelta(hours=3)
        item = str(tx["item_id"].iloc[0])
        line = {
            "customer_id": buyer,
            "order_id": "ONCE-1",
            "item_id": item,
            "timestamp": when.isoformat(),
            "quantity": 2,
            "unit_price": 1.25,
        }
        out = c.post("/events", json={"events": [line]}).json()
        assert out["stored"] == 1 and out["customers_updated"] == 1
        expected = before[buyer]["monetary_total"] + 2.5
        for step in ("events", "reload", "restart"):
            if step == "reload":
                assert c.post("/reload").json()["reloaded"]
            if step == "restart":
                own_server.restart()
            after = _profiles(c, sample)
            assert c.post("/status").json()["customers"] == n_customers, step
            assert after[buyer]["monetary_total"] == pytest.approx(expected), step
            assert {k: after[k] for k in others} == {k: before[k] for k in others}, step
            assert all(p["known"] for p in after.values()), step


def test_a_poison_line_is_refused_and_the_service_stays_ready(own_server, model_set):
    cid = str(model_set.transactions["customer_id"].iloc[0])
    good = {
        "customer_id": cid,
        "order_id": "P-1",
        "item_id": "I00001",
        "timestamp": "2024-01-01T10:00:00",
        "quantity": 1,
        "unit_price": 2.0,
    }
    with httpx.Client(base_url=own_server.url, timeout=60) as c:
        stored = c.post("/status").json()["details"]["event_seq"]
        resp = c.post("/events", json={"events": [good, {**good, "quantity": 1e308}]})
        assert resp.status_code == 422
        assert "line 1" in resp.text and "quantity" in resp.text
        assert c.post("/status").json()["details"]["event_seq"] == stored  # nothing stored
        assert c.post("/reload").json()["reloaded"]
        assert httpx.get(own_server.url + "/readyz").status_code == 200
        assert c.post("/events", json={"events": [good]}).status_code == 200
