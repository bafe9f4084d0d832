"""Attribution on a hand-made recommendation log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.training.attribution import attribute


def _shown() -> pd.DataFrame:
    rows = [
        # id, shown_at, placement, customer, offer, group, version
        ("r1", "2024-01-01", "recommend", "a", None, None, "recommender=1", None),
        ("r2", "2024-01-01", "recommend", "b", None, None, "recommender=1", None),
        ("r3", "2024-01-02", "recommend", "c", None, None, "recommender=2", None),
        ("o1", "2024-01-01", "next_best_offer", "d", "winback", "treated", "churn=1,ltv=1", "c1"),
        ("o2", "2024-01-01", "next_best_offer", "e", "winback", "treated", "churn=1,ltv=1", "c1"),
        ("o3", "2024-01-01", "next_best_offer", "f", "no_offer", "control", "churn=1,ltv=1", "c1"),
        ("o4", "2024-01-01", "next_best_offer", "g", "no_offer", "control", "churn=1,ltv=1", "c1"),
        ("old", "2023-06-01", "recommend", "a", None, None, "recommender=1", None),
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "recommendation_id",
            "shown_at",
            "placement",
            "customer_id",
            "offer_id",
            "grp",
            "model_version",
            "campaign_id",
        ],
    )


def test_conversions_count_only_within_the_window() -> None:
    conversions = pd.DataFrame(
        {
            "recommendation_id": ["r1", "r1", "r2", "r3", "o1"],
            "timestamp": ["2024-01-03", "2024-01-04", "2024-01-20", "2024-01-05", "2024-01-02"],
            "revenue": [10.0, 5.0, 99.0, 7.0, 30.0],
        }
    )
    out = attribute(_shown(), conversions, since="2024-01-01", window_days=7)
    out = out.set_index(["placement", "model_version"])
    rec1 = out.loc[("recommend", "recommender=1")]
    # r1 converted twice (one answer, 15 revenue); r2's purchase is after the window; "old" is before since.
    assert rec1["impressions"] == 2
    assert rec1["conversions"] == 1
    assert rec1["conversion_rate"] == pytest.approx(0.5)
    assert rec1["attributed_revenue"] == pytest.approx(15.0)
    assert out.loc[("recommend", "recommender=2"), "conversions"] == 1
    assert np.isnan(rec1["incremental_effect"])  # no purchases given: no control comparison


def test_incremental_effect_against_the_control_group() -> None:
    purchases = pd.DataFrame(
        {
            "customer_id": ["d", "e", "f"],
            "timestamp": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-05"]),
        }
    )
    conversions = pd.DataFrame(
        {"recommendation_id": ["o1"], "timestamp": ["2024-01-02"], "revenue": [30.0]}
    )
    out = attribute(_shown(), conversions, since="2024-01-01", window_days=7, purchases=purchases)
    offers = out[out["placement"] == "next_best_offer"]
    # control answers are no impressions: one row, the treated "winback" offer of campaign c1
    assert offers["offer_id"].tolist() == ["winback"]
    winback = offers.iloc[0]
    assert winback["impressions"] == 2 and winback["conversions"] == 1
    assert winback["treated_customers"] == 2 and winback["control_customers"] == 2
    # treated: d and e bought (1.0); control: f bought, g did not (0.5)
    assert winback["incremental_effect"] == pytest.approx(0.5)
    se = np.sqrt(0 / 2 + 0.25 / 2)
    assert winback["incremental_low"] == pytest.approx(0.5 - 1.959964 * se, abs=1e-5)
    assert winback["incremental_high"] == pytest.approx(0.5 + 1.959964 * se, abs=1e-5)


def test_a_treated_no_offer_answer_is_no_impression() -> None:
    shown = _shown()
    extra = shown.iloc[[3]].assign(recommendation_id="o5", customer_id="h", offer_id="no_offer")
    out = attribute(pd.concat([shown, extra]), pd.DataFrame(), since="2024-01-01", window_days=7)
    offers = out[out["placement"] == "next_best_offer"]
    assert offers["offer_id"].tolist() == ["winback"] and offers["impressions"].tolist() == [2]
