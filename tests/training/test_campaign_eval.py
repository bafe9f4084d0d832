"""Campaign evaluation: intervals and profit by hand, and honest on a simulated campaign."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kizuna.features.control_groups import hash_units
from kizuna.features.errors import KizunaInputError
from kizuna.models.offer_loading import load_offers
from kizuna.simulators.campaign import CampaignConfig, simulate_campaign
from kizuna.simulators.synthetic import ShopConfig, generate_shop
from kizuna.training.campaign_eval import (
    PROFIT_COLUMNS,
    evaluate_campaign,
    learn_uplift,
    treated_flags,
)
from kizuna.training.metrics_uplift import qini_coefficient

Z95 = 1.959963984540054


def tiny() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(8)],
        "offer_id": ["A"] * 8,
        "treated": ["treated"] * 4 + ["control"] * 4,
        "outcome": [1, 1, 0, 1, 1, 0, 0, 0],
        "revenue": [10.0, 20.0, 0.0, 30.0, 10.0, 0.0, 0.0, 0.0],
    })  # fmt: skip


CATALOGUE = load_offers({
    "margin": 0.5,
    "offers": [{"offer_id": "A", "type": "discount", "save_rate": 0.1,
                "cost": {"fixed": 1.0, "discount_share": 0.1}},
               {"offer_id": "B", "type": "win_back", "save_rate": 0.1, "cost": {"fixed": 2.0}}],
})  # fmt: skip


def test_retention_uplift_and_normal_interval_by_hand() -> None:
    row = evaluate_campaign(tiny(), catalogue=CATALOGUE).iloc[0]
    assert (row["n_treated"], row["n_control"]) == (4, 4)
    assert row["retention_uplift"] == pytest.approx(0.75 - 0.25)
    se = np.sqrt(0.75 * 0.25 / 4 + 0.25 * 0.75 / 4)  # 0.306186
    assert row["retention_uplift_low"] == pytest.approx(0.5 - Z95 * se)
    assert row["retention_uplift_high"] == pytest.approx(0.5 + Z95 * se)
    assert row["retention_uplift_p_value"] == pytest.approx(2 * stats.norm.sf(0.5 / se))


def test_revenue_uplift_is_welch_as_in_scipy() -> None:
    row = evaluate_campaign(tiny(), catalogue=CATALOGUE).iloc[0]
    assert row["revenue_uplift"] == pytest.approx(15.0 - 2.5)
    ref = stats.ttest_ind([10, 20, 0, 30], [10, 0, 0, 0], equal_var=False).confidence_interval(0.95)
    assert row["revenue_uplift_low"] == pytest.approx(ref.low)
    assert row["revenue_uplift_high"] == pytest.approx(ref.high)
    assert row["incremental_revenue"] == pytest.approx(4 * 12.5)


def test_incremental_profit_after_costs_by_hand() -> None:
    row = evaluate_campaign(tiny(), catalogue=CATALOGUE).iloc[0]
    # 50 incremental revenue at margin 0.5 = 25, minus 4 contacts at 1.00, minus 10 % of
    # the 60 the treated spent = 6: 15.
    assert row["cost_fixed"] == pytest.approx(4.0)
    assert row["cost_discount"] == pytest.approx(6.0)
    assert row["incremental_profit"] == pytest.approx(15.0)
    assert row["profit_per_treated"] == pytest.approx(15.0 / 4)
    # Per treated: (0.4 r - 1) = [3, 7, -1, 11] against 0.5 r = [5, 0, 0, 0].
    ref = stats.ttest_ind([3, 7, -1, 11], [5, 0, 0, 0], equal_var=False).confidence_interval(0.9)
    narrow = evaluate_campaign(tiny(), catalogue=CATALOGUE, confidence=0.9).iloc[0]
    assert narrow["incremental_profit_low"] == pytest.approx(4 * ref.low)
    assert narrow["incremental_profit_high"] == pytest.approx(4 * ref.high)


def test_pooled_row_over_offers() -> None:
    b = pd.DataFrame(
        {
            "customer_id": ["d0", "d1", "d2"],
            "offer_id": ["B"] * 3,
            "treated": [1, 1, 0],
            "outcome": [1, 0, 0],
            "revenue": [40.0, 0.0, 0.0],
        }
    )
    report = evaluate_campaign(pd.concat([tiny(), b]), catalogue=CATALOGUE)
    assert list(report["offer_id"]) == ["A", "B", "all"]
    pooled = report.iloc[-1]
    assert (pooled["n_treated"], pooled["n_control"]) == (6, 5)
    assert pooled["retention_uplift"] == pytest.approx(4 / 6 - 1 / 5)
    # Treated profit: A [3, 7, -1, 11], B (0.5 r - 2) = [18, -2]; control 0.5 r = [5, 0, 0, 0, 0].
    assert pooled["incremental_profit"] == pytest.approx(6 * (36 / 6 - 5 / 5))
    assert pooled["cost_fixed"] == pytest.approx(4 * 1.0 + 2 * 2.0)


def test_costs_mapping_and_margin_without_a_catalogue() -> None:
    row = evaluate_campaign(tiny(), costs={"A": (1.0, 0.1)}, margin=0.5).iloc[0]
    assert row["incremental_profit"] == pytest.approx(15.0)
    free = evaluate_campaign(tiny(), margin=1.0).iloc[0]  # the margin alone, costs left out
    assert free["incremental_profit"] == pytest.approx(free["incremental_revenue"])
    assert np.isnan(free["cost_fixed"]) and np.isnan(free["cost_discount"])  # unknown, not 0
    unknown = evaluate_campaign(tiny()).iloc[0]  # nothing said about costs: profit unknown
    assert unknown[list(PROFIT_COLUMNS)].isna().all() and unknown["incremental_revenue"] > 0


def test_treated_flags_accept_the_usual_spellings() -> None:
    got = treated_flags(pd.Series(["Treated", "control", "1", "0", "true", "FALSE"]))
    np.testing.assert_array_equal(got, [True, False, True, False, True, False])
    np.testing.assert_array_equal(treated_flags(pd.Series([True, False])), [True, False])
    with pytest.raises(KizunaInputError, match="treated/control"):
        treated_flags(pd.Series(["treated", "maybe"]))


def test_bad_outcomes_fail_loudly() -> None:
    with pytest.raises(KizunaInputError, match="revenue"):
        evaluate_campaign(tiny().drop(columns="revenue"))
    bad = tiny().assign(outcome=[1, 2, 0, 1, 1, 0, 0, 0])
    with pytest.raises(KizunaInputError, match="0 or 1"):
        evaluate_campaign(bad)
    with pytest.raises(KizunaInputError, match="catalogue lacks"):
        evaluate_campaign(tiny().assign(offer_id="Z"), catalogue=CATALOGUE)
    with pytest.raises(KizunaInputError, match="confidence"):
        evaluate_campaign(tiny(), confidence=1.5)


@pytest.fixture(scope="module")
def campaign():
    shop = generate_shop(ShopConfig(n_customers=4000, seed=21))
    return simulate_campaign(shop, CampaignConfig(), seed=3)


def test_intervals_cover_the_simulated_truth(campaign) -> None:
    cfg = campaign.config
    costs = {cfg.offer_id: (cfg.fixed_cost, cfg.discount_share)}
    row = evaluate_campaign(campaign.outcomes, costs=costs, margin=cfg.margin).iloc[0]
    truth = campaign.truth
    assert row["retention_uplift_low"] < truth["true_uplift"].mean() < row["retention_uplift_high"]
    true_rev = truth["true_revenue_uplift"].mean()
    assert row["revenue_uplift_low"] < true_rev < row["revenue_uplift_high"]
    # Treating everyone loses money in this campaign (sure things take the discount).
    true_profit = truth["true_profit_uplift"].mean() * row["n_treated"]
    assert true_profit < 0
    assert row["incremental_profit_low"] < true_profit < row["incremental_profit_high"]


def test_learn_uplift_measures_on_a_holdout(campaign) -> None:
    models, metrics = learn_uplift(campaign.features, campaign.outcomes, learner="t")
    assert list(models) == [campaign.config.offer_id]
    m = metrics.iloc[0]
    assert m["n_train"] + m["n_holdout"] == len(campaign.outcomes)
    assert 0.2 < m["n_holdout"] / len(campaign.outcomes) < 0.4
    # The holdout is the documented hash rule; random orderings of it give a null Qini.
    held = hash_units(campaign.outcomes["customer_id"], "uplift-holdout-0") < 0.3
    assert int(held.sum()) == m["n_holdout"]
    y = campaign.outcomes["outcome"].to_numpy()[held]
    t = campaign.outcomes["treated"].to_numpy()[held].astype(int)
    rng = np.random.default_rng(0)
    null = [qini_coefficient(y, t, rng.random(y.size)) for _ in range(200)]
    true = qini_coefficient(y, t, campaign.truth["true_uplift"].to_numpy()[held])
    assert m["qini"] > np.mean(null) + 3 * np.std(null)  # 1,242 holdout rows: about 3.5 sd
    assert m["qini"] > 0.5 * true
    scores = models[campaign.config.offer_id].predict_uplift(campaign.features)
    assert np.corrcoef(scores, campaign.truth["true_uplift"])[0, 1] > 0.4


def test_a_small_offer_is_skipped_not_blocking_the_others(campaign) -> None:
    # A second offer with 13 treated customers: too few to learn from. The first offer's
    # model is learned as alone; the small one gets a row saying why it was not.
    outcomes = campaign.outcomes
    small = outcomes.head(40).assign(offer_id="tiny")
    small["treated"] = [1] * 13 + [0] * 27
    models, metrics = learn_uplift(
        campaign.features, pd.concat([outcomes, small], ignore_index=True), learner="t"
    )
    alone, alone_metrics = learn_uplift(campaign.features, outcomes, learner="t")
    assert list(models) == list(alone) == [campaign.config.offer_id]
    row = metrics.set_index("offer_id").loc["tiny"]
    assert np.isnan(row["qini"]) and "treated" in row["skipped"] and "at least 20" in row["skipped"]
    kept = metrics.set_index("offer_id").loc[campaign.config.offer_id]
    assert kept["qini"] == alone_metrics.iloc[0]["qini"] and pd.isna(kept["skipped"])
    with pytest.raises(KizunaInputError, match="no offer can be learned.*tiny: "):
        learn_uplift(campaign.features, small, learner="t")


def test_the_report_evaluates_an_outcomes_file_with_the_experiments_catalogue(tmp_path) -> None:
    from kizuna.training.report.sources import read_campaign

    path = tmp_path / "outcomes.csv"
    tiny().to_csv(path, index=False)
    priced = read_campaign(path, CATALOGUE)
    expected = evaluate_campaign(tiny(), catalogue=CATALOGUE).set_index("offer_id")
    assert priced["incremental_profit"].tolist() == expected["incremental_profit"].tolist()
    assert read_campaign(path)["incremental_profit"].isna().all()  # not the revenue


def test_a_repeated_outcome_row_is_refused_not_counted_twice() -> None:
    outcomes = pd.concat([tiny(), tiny().iloc[[0, 5]]], ignore_index=True)
    with pytest.raises(KizunaInputError, match="2 rows repeat a customer's outcome") as err:
        evaluate_campaign(outcomes, catalogue=CATALOGUE)
    assert "c0" in str(err.value) and "c5" in str(err.value)
