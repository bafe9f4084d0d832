"""Reason codes: phrase table, high/low reading, ranking by contribution."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.models.reason_phrases import Phrase, phrase_table
from kizuna.models.reasons import (
    describe,
    format_number,
    humanise,
    lightgbm_contributions,
    reference_points,
    top_reasons,
)

REF = (60.0, 80.0)  # (median, mean)


@pytest.mark.parametrize(
    ("feature", "value", "reference", "phrase"),
    [
        ("recency_days", 143.4, REF, "Long time since last purchase (143 days)"),
        ("recency_days", 3.0, REF, "Bought recently (3 days ago)"),
        ("trend", -0.4, (0.0, 0.0), "Spending is falling"),
        ("trend", 0.4, (0.0, 0.0), "Spending is rising"),
        ("orders_90d", 0.0, (0.0, 0.8), "Few orders in the last 90 days (0)"),  # tie -> mean
        ("orders_30d", 5.0, (1.0, 1.2), "Many orders in the last 30 days (5)"),
        ("revenue_365d", 1234.5, (300.0, 400.0), "High spend in the last 365 days (1,234)"),
        ("monetary_mean", 12.5, (20.0, 25.0), "Small average order (12.50)"),
        ("return_rate", 0.35, (0.05, 0.1), "Returns much of what they buy (35%)"),
        (
            "p_alive",
            0.12,
            (0.7, 0.6),
            "Purchase pattern suggests they may have lapsed (P(alive) 12%)",
        ),
        ("recency", 10.0, (100.0, 90.0), "Stopped buying soon after the first order"),
        ("T", 900.0, (300.0, 320.0), "Long-standing customer"),
        ("btyd_T", 58.86, (30.0, 35.0), "Long-standing customer"),  # the BTYD summary's T
        ("btyd_recency", 10.0, (100.0, 90.0), "Stopped buying soon after the first order"),
        ("revenue_trend", -1.0, (-1.0, -0.4), "Spending is falling"),  # tie -> mean
        ("order_trend", 0.5, (0.0, 0.0), "Ordering more often lately"),
        ("frequency", 1.0, (2.0, 3.1), "Few orders (1)"),
        ("tenure_days", 12.2, (300.0, 320.0), "New customer (first order 12 days ago)"),
        (
            "gap_mean_days",
            95.0,
            (30.0, 41.0),
            "Long gaps between orders (every 95 days on average)",
        ),
        ("recency_ratio", 2.5, (1.0, 1.3), "Next order is overdue (2.50 times the usual gap)"),
        ("top_category_share", 0.9, (0.5, 0.55), "Buys mostly from one category (90%)"),
        ("expected_purchases_90d", 0.2, (1.0, 1.4), "Few purchases expected (0.20)"),
        ("MonthlyCharges", 99.0, (50.0, 55.0), "Monthly charges is high (99)"),
        ('{"x":1}', 2.0, (1.0, 1.0), '{"x":1} is high (2)'),
        ("tenure_months", 2.0, (24.0, 25.0), "Tenure months is low (2)"),
        ("Plan Type", "basic", None, "Plan type: basic"),
        ("monthly_charges", None, (50.0, 55.0), "Monthly charges is unknown"),
        ("monthly_charges", float("nan"), (50.0, 55.0), "Monthly charges is unknown"),
        ("gap_mean_days", float("nan"), (30.0, 41.0), "Only one order so far"),
    ],
)
def test_describe(feature: str, value: object, reference: tuple | None, phrase: str) -> None:
    assert describe(feature, value, reference) == phrase


def test_binary_flag_at_its_median_reads_by_the_mean() -> None:
    # 70 % of customers have the flag: median 1, mean 0.7; having it is "high".
    assert describe("is_member", 1.0, (1.0, 0.7)) == "Is member is high (1)"
    assert describe("is_member", 0.0, (1.0, 0.7)) == "Is member is low (0)"


def test_custom_phrase_table_wins_over_the_default() -> None:
    table = (
        Phrase(r"nps_score", "Says they love us ({value})", "Unhappy in the survey ({value})"),
    )
    assert describe("nps_score", 2.0, (7.0, 6.5), phrases=table) == "Unhappy in the survey (2)"


def test_humanise_and_format() -> None:
    assert humanise("monthly_charges") == "Monthly charges"
    assert humanise("TotalCharges") == "Total charges"
    assert humanise("n_SKU") == "N SKU"
    assert format_number(3.0) == "3" and format_number(2.345) == "2.35"
    assert format_number(12345.6) == "12,346"


def test_top_reasons_ranks_positive_contributions() -> None:
    values = pd.DataFrame(
        {"recency_days": [200.0, 10.0], "trend": [-1.0, 1.0], "noise": [0.0, 0.0]}
    )
    contrib = np.array([[0.8, 0.3, -0.5], [-0.2, -0.1, 0.05]])
    ref = {"recency_days": (60.0, 70.0), "trend": (0.0, 0.0), "noise": (0.0, 0.0)}
    up = top_reasons(contrib, values, reference=ref, top_n=3)
    assert [r["feature"] for r in up[0]] == ["recency_days", "trend"]
    assert up[0][0] == {
        "feature": "recency_days",
        "phrase": "Long time since last purchase (200 days)",
        "contribution": 0.8,
        "value": 200.0,
    }
    assert up[0][1]["phrase"] == "Spending is falling"
    assert [r["feature"] for r in up[1]] == ["noise"]  # only one pushes up
    # sign=-1: what keeps the score down, strongest first, contribution kept negative.
    down = top_reasons(contrib, values, reference=ref, top_n=1, sign=-1)
    assert down[0] == [
        {"feature": "noise", "phrase": "Noise is high (0)", "contribution": -0.5, "value": 0.0}
    ]
    assert down[1][0]["feature"] == "recency_days"
    assert down[1][0]["phrase"] == "Bought recently (10 days ago)"


def test_missing_values_are_reported_as_none() -> None:
    values = pd.DataFrame({"x": [np.nan]})
    reasons = top_reasons(np.array([[0.4]]), values, reference={"x": (1.0, 1.0)})
    assert reasons == [
        [{"feature": "x", "phrase": "X is unknown", "contribution": 0.4, "value": None}]
    ]


def test_reference_points_skip_categories() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 6.0], "c": pd.Categorical(["u", "v", "u"])})
    assert reference_points(X) == {"a": (2.0, 3.0)}


def test_lightgbm_contributions_add_up_to_the_raw_score() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = (X["a"] + 0.1 * rng.normal(size=300) > 0).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_threads": 1},
        lgb.Dataset(X, label=y),
        num_boost_round=10,
    )
    contrib = lightgbm_contributions(booster, X)
    assert contrib.shape == (300, 2)
    bias = booster.predict(X, pred_contrib=True)[:, -1]
    np.testing.assert_allclose(contrib.sum(axis=1) + bias, booster.predict(X, raw_score=True))
    # The only informative feature dominates.
    assert np.mean(np.abs(contrib[:, 0]) > np.abs(contrib[:, 1])) > 0.9


def test_phrase_table_from_experiment_config() -> None:
    table = phrase_table({"recency_days": ["Lapsed ({days} d)", "Active", "No orders yet"]})
    assert describe("recency_days", 90.4, (30.0, 40.0), phrases=table) == "Lapsed (90 d)"
    assert describe("recency_days", None, (30.0, 40.0), phrases=table) == "No orders yet"
    assert describe("trend", -1.0, (0.0, 0.0), phrases=table) == "Spending is falling"
    assert phrase_table(None) == phrase_table({})
    with pytest.raises(KizunaInputError, match="pattern"):
        phrase_table({"(": ["a", "b"]})


def test_a_phrase_is_said_once_per_row() -> None:
    # One-order customer: both gap features read "Only one order so far".
    values = pd.DataFrame(
        {"gap_mean_days": [np.nan], "recency_ratio": [np.nan], "recency_days": [120.0]}
    )
    contrib = np.array([[0.5, 0.4, 0.3]])
    ref = {"gap_mean_days": (30.0, 35.0), "recency_ratio": (1.0, 1.1), "recency_days": (40.0, 50.0)}
    reasons = top_reasons(contrib, values, reference=ref, top_n=2)
    assert [(r["feature"], r["phrase"]) for r in reasons[0]] == [
        ("gap_mean_days", "Only one order so far"),
        ("recency_days", "Long time since last purchase (120 days)"),
    ]
