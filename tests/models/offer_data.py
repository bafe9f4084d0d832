"""A three-offer catalogue and three customers whose offer values are worked out by hand."""

from __future__ import annotations

import pandas as pd

from kizuna.models.offer_loading import load_offers

NOW = pd.Timestamp("2025-03-01")

RAW = {
    "margin": 0.5,
    "offers": [
        {"offer_id": "wb", "type": "win_back", "save_rate": 0.2,
         "cost": {"fixed": 1.0, "discount_share": 0.1},
         "eligibility": {"churn_probability": {"min": 0.3}}, "caps": {"cooldown_days": 60}},
        {"offer_id": "loy", "type": "loyalty_reward", "save_rate": 0.1, "cost": {"fixed": 3.0},
         "eligibility": {"segments": ["Champions"], "channels": ["app"]}},
        {"offer_id": "xs", "type": "cross_sell", "incremental_share": 0.5, "max_items": 2,
         "cost": {"fixed": 0.5}},
    ],
}  # fmt: skip
CAT = load_offers(RAW)


def customers() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "b", "c"],
        "segment": ["At risk", "Champions", "Lost"],
        "churn_probability": [0.8, 0.1, 0.5],
        "predicted_value": [100.0, 200.0, 5.0],
        "days_since_last_purchase": [100.0, 10.0, 400.0],
        "monetary_mean": [40.0, 50.0, 5.0],
    })  # fmt: skip


def candidates() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "zz"],
        "item_id": ["i1", "i2", "i3", "i4", "i9"],
        "p_purchase": [0.2, 0.5, 0.1, 0.3, 0.9],
        "margin_value": [10.0, 4.0, 50.0, 1.0, 99.0],
    })  # fmt: skip
