"""The simulated campaign: deterministic, true to its generative story, and learnable."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kizuna.features.control_groups import in_control
from kizuna.features.errors import KizunaInputError
from kizuna.simulators.campaign import (
    ARCHETYPES,
    CampaignConfig,
    simulate_campaign,
    true_profit_uplift,
)
from kizuna.simulators.synthetic import ShopConfig, generate_shop


@pytest.fixture(scope="module")
def shop():
    return generate_shop(ShopConfig(n_customers=4000, seed=5))


@pytest.fixture(scope="module")
def campaign(shop):
    return simulate_campaign(shop, seed=1)


def test_same_seed_same_campaign(shop, campaign) -> None:
    again = simulate_campaign(shop, seed=1)
    pd.testing.assert_frame_equal(again.outcomes, campaign.outcomes)
    pd.testing.assert_frame_equal(again.truth, campaign.truth)
    other = simulate_campaign(shop, seed=2)
    assert not other.outcomes["outcome"].equals(campaign.outcomes["outcome"])
    # Assignment depends on ids and campaign only, not on the seed.
    assert other.outcomes["treated"].equals(campaign.outcomes["treated"])


def test_assignment_is_the_hash_control_group(campaign) -> None:
    o = campaign.outcomes
    control = in_control(o["customer_id"], campaign.config.campaign_id, 0.5)
    np.testing.assert_array_equal(o["treated"].to_numpy(), ~control)
    assert set(o.columns) == {
        "customer_id",
        "campaign_id",
        "offer_id",
        "treated",
        "outcome",
        "revenue",
    }


def test_outcomes_follow_the_potential_outcomes(campaign) -> None:
    o, t = campaign.outcomes, campaign.truth
    treated = o["treated"].to_numpy()
    expected = np.where(treated, t["y_treated"], t["y_control"])
    np.testing.assert_array_equal(o["outcome"].to_numpy(), expected)
    np.testing.assert_array_equal(o["revenue"] > 0, o["outcome"] == 1)
    pairs = {
        "sure_thing": (1, 1), "persuadable": (0, 1), "sleeping_dog": (1, 0), "lost_cause": (0, 0),
    }  # fmt: skip
    for name, (y0, y1) in pairs.items():
        rows = t["archetype"] == name
        assert (t.loc[rows, "y_control"] == y0).all() and (t.loc[rows, "y_treated"] == y1).all()
    np.testing.assert_allclose(t["true_uplift"], t["p_treated"] - t["p_control"])
    cfg = campaign.config
    np.testing.assert_allclose(
        t["true_profit_uplift"],
        (cfg.margin * t["true_uplift"] - cfg.discount_share * t["p_treated"]) * t["expected_basket"]
        - cfg.fixed_cost,
    )


def test_uplift_by_hand_from_a_customer_frame() -> None:
    frame = pd.DataFrame({
        "customer_id": ["lapsing", "new"],
        "recency_days": [120.0, 5.0],
        "frequency": [3.0, 1.0],
        "monetary_mean": [40.0, 60.0],
        "p_control": [0.4, 0.7],
    })  # fmt: skip
    sim = simulate_campaign(frame, CampaignConfig(noise_sigma=0.0), seed=0)
    truth = sim.truth.set_index("customer_id")
    # lapsing: recency at the 120-day peak, so lapse = 1; habit = 1 - e^-1 = 0.632121;
    # phi+ = 0.5 * 0.632121 = 0.316060; newness = exp(-2/1.5 - 120/60) = 0.035674,
    # phi- = 0.6 * 0.035674 = 0.021404; p1 = 0.4 * (1 - phi-) + 0.6 * phi+ = 0.581075.
    assert truth.loc["lapsing", "p_treated"] == pytest.approx(0.581075, abs=1e-6)
    assert truth.loc["lapsing", "true_uplift"] == pytest.approx(0.181075, abs=1e-6)
    # new: one order, so habit = 0 and phi+ = 0; newness = exp(-5/60) = 0.920044,
    # phi- = 0.552026; p1 = 0.7 * (1 - 0.552026) = 0.313582: a sleeping dog.
    assert truth.loc["new", "true_uplift"] == pytest.approx(0.313582 - 0.7, abs=1e-6)
    assert truth.loc["new", "likely_archetype"] == "sleeping_dog"
    # The baseline is truth, not a feature.
    assert "p_control" not in sim.features.columns
    # Without p_control the baseline follows recency.
    plain = simulate_campaign(frame.drop(columns="p_control"), seed=0).truth
    assert plain["p_control"].iloc[0] == pytest.approx(0.85 * math.exp(-120 / 150))


def test_all_four_archetypes_where_the_story_puts_them(campaign) -> None:
    t, f = campaign.truth, campaign.features
    shares = t["archetype"].value_counts(normalize=True)
    assert set(shares.index) == set(ARCHETYPES)
    assert shares["persuadable"] > 0.04 and shares["sleeping_dog"] > 0.01
    arche = t["archetype"].to_numpy()
    persuadable = f[arche == "persuadable"]
    dogs = f[arche == "sleeping_dog"]
    # Persuadables are lapsing repeat buyers; sleeping dogs new and recent.
    assert (persuadable["frequency"] >= 2).mean() > 0.95
    assert 60 < persuadable["recency_days"].median() < 300
    assert (dogs["frequency"] <= 2).mean() > 0.8
    assert dogs["recency_days"].median() < 60
    # The churn trap: lost causes look the most at risk, but the offer does nothing for them.
    churn = 1 - t["p_control"]
    by_type = churn.groupby(t["archetype"].to_numpy()).mean()
    assert by_type["lost_cause"] > by_type["persuadable"] > by_type["sure_thing"]
    assert abs(t.loc[arche == "lost_cause", "true_uplift"].mean()) < 0.08


def test_the_randomised_difference_estimates_the_true_mean_uplift(campaign) -> None:
    o, t = campaign.outcomes, campaign.truth
    yt = o.loc[o["treated"], "outcome"]
    yc = o.loc[~o["treated"], "outcome"]
    se = math.sqrt(yt.var() / len(yt) + yc.var() / len(yc))
    assert abs((yt.mean() - yc.mean()) - t["true_uplift"].mean()) < 4 * se


def test_true_profit_uplift_by_hand() -> None:
    # (0.35 * 0.2 - 0.15 * 0.5) * 40 - 0.5 = (0.07 - 0.075) * 40 - 0.5 = -0.7
    got = true_profit_uplift(
        np.array([0.3]),
        np.array([0.5]),
        np.array([40.0]),
        margin=0.35,
        discount_share=0.15,
        fixed_cost=0.5,
    )
    assert got[0] == pytest.approx(-0.7)


def test_bad_inputs_fail_loudly(shop) -> None:
    with pytest.raises(KizunaInputError, match="monetary_mean"):
        simulate_campaign(
            pd.DataFrame({"customer_id": ["a"], "recency_days": [1.0], "frequency": [1.0]})
        )
    with pytest.raises(KizunaInputError, match="frequency"):
        simulate_campaign(
            pd.DataFrame(
                {
                    "customer_id": ["a"],
                    "recency_days": [1.0],
                    "frequency": [0.0],
                    "monetary_mean": [5.0],
                }
            )
        )
    with pytest.raises(KizunaInputError, match="as_of"):
        simulate_campaign(shop, as_of="2030-01-01")
    with pytest.raises(KizunaInputError, match="control_share"):
        CampaignConfig(control_share=1.5)
    with pytest.raises(KizunaInputError, match="Shop or a customer frame"):
        simulate_campaign([1, 2, 3])  # type: ignore[arg-type]
