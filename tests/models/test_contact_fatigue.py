"""The global contact cap, counted for the report: across offers and channels, per period."""

from __future__ import annotations

import pandas as pd

from kizuna.models.contact_log import fatigue_summary
from kizuna.models.offer_loading import load_offers


def test_fatigue_counts_customers_at_the_global_cap_across_offers_and_channels() -> None:
    catalogue = load_offers(
        {
            "contact_policy": {"max_contacts": 2, "period_days": 30, "min_days_between": 0},
            "offers": [
                {"offer_id": "a", "type": "win_back", "save_rate": 0.1},
                {"offer_id": "b", "type": "win_back", "save_rate": 0.1},
            ],
        }
    )
    log = pd.DataFrame(
        {
            "customer_id": ["x", "x", "y", "y", "z"],
            # x: two different offers on two channels within 30 days -> capped;
            # y: the second contact is 40 days old -> one in the period, not capped;
            # z: one contact -> not capped. A contact after `now` never counts.
            "offer_id": ["a", "b", "a", "a", "b"],
            "contacted_at": pd.to_datetime(
                ["2024-03-20", "2024-03-25", "2024-03-28", "2024-02-20", "2024-04-05"]
            ),
            "channel": ["email", "app", "email", "email", "web"],
        }
    )
    out = fatigue_summary(log, ["x", "y", "z", "w"], catalogue, "2024-04-01")
    assert out["customers"] == 4
    assert out["capped"] == 1
    assert out["contacted_in_period"] == 2
    assert out["contacts_in_period"] == 3
    assert out["max_contacts"] == 2 and out["period_days"] == 30.0
