"""``/next_best_offer`` over HTTP on a CSV contact log, written by the service and by others.

A server on loopback reads ``contacts.csv`` into memory at start, then only the
lines appended since: its own recorded contacts and those another writer (here
:func:`append_contacts`, as ``kizuna score offers --log-contacts`` would) adds
while it runs. Both block the next offer (offers_demo.yaml: a week between two
contacts).
"""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from kizuna.serving.contact_store import append_contacts, read_contact_log
from tests.serving.loopback import start_server

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def contact(customer: str, when: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [customer], "offer_id": ["cross_sell_email"], "contacted_at": [when],
        "channel": ["email"], "campaign_id": [None],
    })  # fmt: skip


def test_contacts_written_before_by_the_service_and_meanwhile_all_count(model_set, tmp_path):
    purchases = model_set.transactions[model_set.transactions["quantity"] > 0]
    customers = purchases["customer_id"].astype(str).value_counts().index[:60].tolist()
    log = tmp_path / "contacts.csv"
    now = pd.Timestamp.now()
    append_contacts(log, contact(customers[0], now - pd.Timedelta(days=1)))  # before the start
    server = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(model_set.folder),
            "KIZUNA_EVENT_STORE": str(tmp_path / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(log),
        },
        tmp_path / "server.log",
    )
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:

            def offer(cid: str, record: bool = False) -> dict:
                body = {"customer_id": cid, "channel": "email", "record": record}
                got = http.post("/next_best_offer", json=body)
                assert got.status_code == 200, got.text
                return got.json()

            held = offer(customers[0])["decisions"][0]
            assert held["offer_id"] == "no_offer"
            assert any("contact policy" in r for r in held["reasons"])
            eligible = [
                c for c in customers[1:] if offer(c)["decisions"][0]["offer_id"] != "no_offer"
            ]
            if len(eligible) < 2:
                pytest.skip("too few customers of the test shop are eligible for an offer")
            mine, theirs = eligible[:2]
            assert offer(mine, record=True)["recorded"] is True
            assert offer(mine)["decisions"][0]["offer_id"] == "no_offer"
            append_contacts(log, contact(theirs, now))  # another writer, while the server runs
            assert offer(theirs)["decisions"][0]["offer_id"] == "no_offer"
    finally:
        server.stop()
    written = read_contact_log(log)
    assert written["customer_id"].tolist() == [customers[0], mine, theirs]
    assert log.read_text().count("customer_id") == 1
