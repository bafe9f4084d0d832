"""Offer caps, cooldowns and the contact policy: by hand, and audited over a season of runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.models.contact_log import contact_blocks, contacts_from_decisions, empty_log
from kizuna.models.next_best_offer import decide
from kizuna.models.offer_loading import load_offers
from kizuna.models.offers import NO_OFFER
from tests.models.offer_data import CAT, NOW, RAW, candidates, customers


def log_of(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "offer_id", "contacted_at"]).assign(
        contacted_at=lambda f: pd.to_datetime(f["contacted_at"])
    )


def test_cooldown_blocks_the_same_offer() -> None:
    recent = log_of([("a", "wb", "2025-01-30")])  # 30 days before NOW, cooldown 60
    d = decide(customers(), CAT, product_candidates=candidates(), contact_log=recent, now=NOW)
    assert d.set_index("customer_id").loc["a", "offer_id"] == "xs"
    older = log_of([("a", "wb", "2024-12-30")])  # 61 days
    d = decide(customers(), CAT, product_candidates=candidates(), contact_log=older, now=NOW)
    assert d.set_index("customer_id").loc["a", "offer_id"] == "wb"
    future = log_of([("a", "wb", "2025-03-05")])  # after now: ignored
    d = decide(customers(), CAT, product_candidates=candidates(), contact_log=future, now=NOW)
    assert d.set_index("customer_id").loc["a", "offer_id"] == "wb"
    with pytest.raises(KizunaInputError, match="now"):
        decide(customers(), CAT, contact_log=recent)


def test_offer_cap_and_contact_policy() -> None:
    raw = {**RAW, "offers": [{**RAW["offers"][0], "caps": {"max_contacts": 2, "period_days": 90}}]}
    two = log_of([("a", "wb", "2025-02-01"), ("a", "wb", "2025-01-01")])
    assert decide(customers(), raw, contact_log=two, now=NOW)["offer_id"].iloc[0] == NO_OFFER
    reasons = decide(customers(), raw, contact_log=two, now=NOW)["reasons"].iloc[0]
    assert "cap of 2" in reasons[1]
    one_in = log_of([("a", "wb", "2025-02-01"), ("a", "wb", "2024-11-01")])  # 2nd outside 90 d
    assert decide(customers(), raw, contact_log=one_in, now=NOW)["offer_id"].iloc[0] == "wb"
    policy = {**RAW, "contact_policy": {"max_contacts": 1, "period_days": 30}}
    other = log_of([("a", "retired_offer", "2025-02-20")])  # any contact counts
    d = decide(customers(), policy, product_candidates=candidates(), contact_log=other, now=NOW)
    a = d[d["customer_id"] == "a"].iloc[0]
    assert a["offer_id"] == NO_OFFER and "contact policy" in a["reasons"][1]
    gap = {**RAW, "contact_policy": {"min_days_between": 14}}
    d = decide(customers(), gap, product_candidates=candidates(), contact_log=other, now=NOW)
    assert d.set_index("customer_id").loc["a", "offer_id"] == NO_OFFER
    no_offer_rows = log_of([("a", NO_OFFER, "2025-02-28")])  # a no-offer is not a contact
    d = decide(
        customers(), gap, product_candidates=candidates(), contact_log=no_offer_rows, now=NOW
    )
    assert d.set_index("customer_id").loc["a", "offer_id"] == "wb"


def test_caps_and_cooldowns_hold_over_a_season_of_daily_runs() -> None:
    """Decide every day for 120 days, log what is sent, and audit the log afterwards."""
    rng = np.random.default_rng(7)
    n = 300
    cust = pd.DataFrame({
        "customer_id": [f"c{i:03d}" for i in range(n)],
        "segment": rng.choice(["At risk", "Champions", "Lost"], n),
        "churn_probability": rng.uniform(0.2, 0.95, n),
        "predicted_value": rng.gamma(2.0, 80.0, n),
        "days_since_last_purchase": rng.uniform(0, 400, n),
    })  # fmt: skip
    raw = {
        "margin": 0.5,
        "contact_policy": {"max_contacts": 3, "period_days": 30, "min_days_between": 4},
        "offers": [
            {"offer_id": "wb", "type": "win_back", "save_rate": 0.3, "cost": {"fixed": 0.5},
             "caps": {"cooldown_days": 21, "max_contacts": 2, "period_days": 60}},
            {"offer_id": "disc", "type": "discount", "save_rate": 0.2, "cost": {"fixed": 0.2},
             "caps": {"cooldown_days": 10}},
            {"offer_id": "xs", "type": "cross_sell", "cost": {"fixed": 0.05},
             "caps": {"cooldown_days": 7, "max_contacts": 1, "period_days": 14}},
        ],
    }  # fmt: skip
    cat = load_offers(raw)
    cands = pd.DataFrame(
        {
            "customer_id": cust["customer_id"],
            "item_id": "i1",
            "p_purchase": rng.uniform(0, 0.5, n),
            "margin_value": 5.0,
        }
    )
    log = empty_log()
    start = pd.Timestamp("2025-01-01")
    for day in range(120):
        now = start + pd.Timedelta(days=day)
        d = decide(
            cust, cat, product_candidates=cands, contact_log=log, now=now, k=2, explain=False
        )
        log = pd.concat([log, contacts_from_decisions(d, now)], ignore_index=True)
    assert len(log) > 1000  # the policy, not a lack of value, is what limits contacts
    log = log.sort_values(["customer_id", "contacted_at"])
    days = (log["contacted_at"] - start).dt.days.to_numpy()
    ids, offer_ids = log["customer_id"].to_numpy(), log["offer_id"].to_numpy()
    for cid in np.unique(ids):
        t = days[ids == cid]
        assert (np.diff(t) >= 4).all(), cid  # min_days_between
        for d0 in t:  # at most 3 contacts in any 30 days
            assert ((t >= d0) & (t < d0 + 30)).sum() <= 3, cid
        for offer in cat.offers:
            to = days[(ids == cid) & (offer_ids == offer.offer_id)]
            assert (np.diff(to) >= offer.caps.cooldown_days).all(), (cid, offer.offer_id)
            if offer.caps.max_contacts is not None:
                for d0 in to:
                    window = (to >= d0) & (to < d0 + offer.caps.period_days)
                    assert window.sum() <= offer.caps.max_contacts, (cid, offer.offer_id)
    # And the pure blocker agrees at the end: nobody at the policy cap is offered anything.
    end = start + pd.Timedelta(days=120)
    blocks = contact_blocks(log, cust["customer_id"], cat, end)
    final = decide(cust, cat, product_candidates=cands, contact_log=log, now=end)
    assert (final.loc[blocks.policy, "offer_id"] == NO_OFFER).all()
