"""Uplift meta-learners: the contract, and the claims of the issue on the simulated campaign.

The campaign (features/campaign.py) is run on a 12,000-customer synthetic shop and split by
hash into a training half and a test half (5,922 customers). Measured on the test half
(seeded, at the time of writing):

- normalised Qini of the learned uplift: T-learner 0.110, X-learner 0.108; random orderings
  -0.001 +- 0.012 (so about 9 sd above random); the true uplift 0.140 (the ceiling for any
  model on this sample), so the learners reach 78 % and 77 % of it;
- incremental profit at a budget of 10 % of customers (592 contacts), summed from the true
  expected profit of each chosen customer: uplift targeting through ``decide`` with the
  X-learner +757 (T-learner +714), the assumed save rate +126, churn-only targeting (a churn
  model on the same features) -67, random -1,674; the best possible +2,055.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from kizuna.features.control_groups import hash_units
from kizuna.features.errors import KizunaInputError
from kizuna.models.churn import ChurnClassifier
from kizuna.models.next_best_offer import decide
from kizuna.models.offer_loading import load_offers
from kizuna.models.uplift import TLearner, XLearner, fit_uplift_by_offer, uplift_frame
from kizuna.simulators.campaign import CampaignConfig, simulate_campaign
from kizuna.simulators.synthetic import ShopConfig, generate_shop
from kizuna.training.metrics_uplift import qini_coefficient
from tests.models.uplift_contract import FAST_UPLIFT, UpliftContract

BUDGET = 0.10  # share of test customers that may be contacted


class TestTLearnerContract(UpliftContract):
    def make_estimator(self) -> TLearner:
        return TLearner(**FAST_UPLIFT)


class TestXLearnerContract(UpliftContract):
    def make_estimator(self) -> XLearner:
        return XLearner(**FAST_UPLIFT)

    def bad_settings(self) -> dict:
        return {**super().bad_settings(), "propensity": 1.0}


@pytest.fixture(scope="module")
def split():
    shop = generate_shop(ShopConfig(n_customers=12_000, seed=11))
    sim = simulate_campaign(shop, CampaignConfig(), seed=5)
    train = hash_units(sim.features.index, "train-test") < 0.5
    return sim, train


@pytest.fixture(scope="module")
def learners(split):
    sim, train = split
    X, o = sim.features, sim.outcomes
    t, y = o["treated"].to_numpy().astype(int), o["outcome"].to_numpy()
    return {
        "t": TLearner(random_state=0).fit(X[train], t[train], y[train]),
        "x": XLearner(random_state=0).fit(X[train], t[train], y[train]),
    }


def test_contract(split, learners) -> None:
    sim, train = split
    for model in learners.values():
        assert model.n_features_in_ == sim.features.shape[1]
        assert 0.45 < model.treated_share_ < 0.55
        assert model.outcome_ == "binary"
        test = sim.features[~train].iloc[:50]
        outcomes = model.predict_outcomes(test)
        assert outcomes.shape == (50, 2) and ((outcomes >= 0) & (outcomes <= 1)).all()
        assert model.predict_uplift(test).shape == (50,)
    t_model = learners["t"]
    o = t_model.predict_outcomes(sim.features.iloc[:50])
    np.testing.assert_allclose(t_model.predict_uplift(sim.features.iloc[:50]), o[:, 1] - o[:, 0])
    assert clone(learners["x"]).get_params()["propensity"] is None


@pytest.mark.parametrize("name", ["t", "x"])
def test_learned_uplift_ranks_customers_by_true_uplift(split, learners, name: str) -> None:
    sim, train = split
    test = ~train
    o, truth = sim.outcomes[test], sim.truth[test]
    y, t = o["outcome"].to_numpy(), o["treated"].to_numpy().astype(int)
    score = learners[name].predict_uplift(sim.features[test])
    qini = qini_coefficient(y, t, score)
    rng = np.random.default_rng(0)
    null = np.array([qini_coefficient(y, t, rng.random(y.size)) for _ in range(100)])
    ceiling = qini_coefficient(y, t, truth["true_uplift"].to_numpy())
    assert qini > null.mean() + 5 * null.std()  # measured: about 9 sd
    assert qini > 0.6 * ceiling  # measured: 0.78 (t), 0.77 (x)
    assert np.corrcoef(score, truth["true_uplift"])[0, 1] > 0.6


def test_uplift_targeting_beats_churn_targeting_at_equal_budget(split, learners) -> None:
    sim, train = split
    cfg = sim.config
    X, o = sim.features, sim.outcomes
    y = o["outcome"].to_numpy()
    control = train & ~o["treated"].to_numpy()
    # Churn-only: a churn model on the same features, fitted where nothing was offered.
    churn_model = ChurnClassifier(
        n_estimators=100, num_leaves=7, min_child_samples=100, calibration=None, n_jobs=1
    ).fit(X[control], 1 - y[control])
    test_X = X[~train]
    churn = churn_model.predict_proba(test_X)[:, 1]
    scores = test_X.reset_index().assign(
        churn_probability=churn,
        predicted_value=test_X["monetary_mean"].to_numpy(),  # value of a kept customer: a basket
        days_since_last_purchase=test_X["recency_days"].to_numpy(),
    )
    catalogue = load_offers(
        {
            "margin": cfg.margin,
            "offers": [
                {
                    "offer_id": cfg.offer_id,
                    "type": "win_back",
                    "save_rate": 0.15,
                    "cost": {"fixed": cfg.fixed_cost, "discount_share": cfg.discount_share},
                }
            ],
        }
    )
    true_profit = sim.truth.loc[~train, "true_profit_uplift"].to_numpy()
    n_contacts = int(BUDGET * len(scores))

    def profit_of_decisions(decisions: pd.DataFrame) -> tuple[float, int]:
        ev = decisions["expected_value"].to_numpy()
        chosen = np.argsort(-ev, kind="stable")[:n_contacts]
        chosen = chosen[ev[chosen] > 0]  # no offer where it does not pay
        return float(true_profit[chosen].sum()), chosen.size

    uplift_profit, uplift_n = profit_of_decisions(
        decide(scores, catalogue, uplift={cfg.offer_id: learners["x"]}, explain=False)
    )
    assumed_profit, _ = profit_of_decisions(decide(scores, catalogue, explain=False))
    churn_profit = float(true_profit[np.argsort(-churn, kind="stable")[:n_contacts]].sum())
    random_pick = np.random.default_rng(1).choice(len(scores), n_contacts, replace=False)
    random_profit = float(true_profit[random_pick].sum())
    assert uplift_n <= n_contacts
    # Measured: +757 (uplift), +126 (assumed save rate), -67 (churn only), -1,674 (random).
    assert uplift_profit > 450
    assert uplift_profit > churn_profit + 500
    assert uplift_profit > assumed_profit + 350
    assert churn_profit > random_profit + 1000


def test_continuous_outcome_recovers_a_known_effect() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    X = pd.DataFrame({"x0": rng.random(n), "x1": rng.random(n)})
    t = rng.random(n) < 0.5
    tau = 2.0 * X["x0"].to_numpy()  # revenue uplift grows with x0
    y = 10 * X["x1"].to_numpy() + tau * t + rng.normal(0, 0.5, n)
    for model in (TLearner(random_state=0), XLearner(random_state=0)):
        model.fit(X, t, y)
        assert model.outcome_ == "continuous"
        pred = model.predict_uplift(X)
        assert np.corrcoef(pred, tau)[0, 1] > 0.9
        assert pred.mean() == pytest.approx(tau.mean(), abs=0.15)


def test_same_seed_same_model(split) -> None:
    sim, train = split
    X = sim.features[train].iloc[:3000]
    o = sim.outcomes[train].iloc[:3000]
    t, y = o["treated"].to_numpy(), o["outcome"].to_numpy()
    a = TLearner(random_state=4, n_estimators=30).fit(X, t, y).predict_uplift(X)
    b = TLearner(random_state=4, n_estimators=30).fit(X, t, y).predict_uplift(X)
    np.testing.assert_array_equal(a, b)


def test_bad_inputs_fail_loudly() -> None:
    X = pd.DataFrame({"x": np.arange(100.0)})
    y = np.arange(100) % 2
    with pytest.raises(KizunaInputError, match="treatment"):
        TLearner().fit(X, np.ones(100), y)
    with pytest.raises(KizunaInputError, match="at least 20"):
        TLearner().fit(X, (np.arange(100) < 10).astype(int), y)
    with pytest.raises(KizunaInputError, match="outcome"):
        TLearner(outcome="binary").fit(X, np.arange(100) % 2, np.arange(100.0))
    with pytest.raises(KizunaInputError, match="propensity"):
        XLearner(propensity=1.0).fit(X, np.arange(100) % 2, y)
    # treatment and outcome indexed by the customers in another order pair by position:
    # each customer would get another's group and outcome
    ids = X.set_axis([f"C{i}" for i in range(100)])
    t = pd.Series(np.arange(100) % 2, index=ids.index)
    with pytest.raises(KizunaInputError, match="treatment.*order"):
        TLearner().fit(ids, t.iloc[::-1], y)
    with pytest.raises(KizunaInputError, match="outcome.*order"):
        TLearner().fit(ids, t, pd.Series(y, index=ids.index).iloc[::-1])


def test_fit_per_offer_and_the_uplift_frame() -> None:
    rng = np.random.default_rng(0)
    n = 400
    features = pd.DataFrame(
        {"x": rng.random(n)}, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    )
    outcomes = pd.DataFrame({
        "customer_id": features.index, "offer_id": np.where(np.arange(n) < 200, "a", "b"),
        "treated": np.arange(n) % 2, "outcome": rng.integers(0, 2, n),
    })  # fmt: skip
    models = fit_uplift_by_offer(features, outcomes, TLearner(n_estimators=5))
    assert sorted(models) == ["a", "b"]
    frame = uplift_frame(models, features)
    assert list(frame.columns) == ["customer_id", "offer_id", "uplift"] and len(frame) == 2 * n
    with pytest.raises(KizunaInputError, match="without features"):
        fit_uplift_by_offer(features.iloc[:100], outcomes, TLearner(n_estimators=5))
