"""Honest model selection: a baseline that wins on validation is what gets served.

Synthetic snapshots where a baseline is right by construction (the label is
a logistic function of RFM; the value is the BG/NBD column) and the booster
is crippled (one tree of two leaves), so the fallback must happen.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kizuna.models.baselines import AttributeLogisticBaseline
from kizuna.models.btyd_features import EXPECTED_VALUE
from kizuna.models.churn import ChurnClassifier
from kizuna.models.churn_baseline import RFMLogisticBaseline
from kizuna.models.column_forecast import ColumnForecast
from kizuna.training.config import ChurnConfig, LTVConfig
from kizuna.training.registration import CHALLENGER, CHAMPION, decide_alias
from kizuna.training.selection import TUNED, best_rival, choose_served
from kizuna.training.snapshots import Snapshot
from kizuna.training.train_tabular import train_churn, train_ltv

CRIPPLED = {"n_estimators": 1, "num_leaves": 2, "early_stopping_rounds": None}


def test_the_tuned_model_is_served_unless_a_baseline_is_strictly_better():
    chosen = choose_served({TUNED: 0.80, "rfm": 0.80, "pop": 0.70}, metric="roc_auc")
    assert chosen.served == TUNED and not chosen.baseline_served
    chosen = choose_served({TUNED: 0.80, "rfm": 0.81}, metric="roc_auc")
    assert chosen.served == "rfm" and "beats the tuned model" in chosen.reason
    chosen = choose_served({TUNED: 10.0, "btyd": 9.0}, metric="mae", higher_is_better=False)
    assert chosen.served == "btyd"
    assert choose_served({TUNED: math.nan, "rfm": 0.5}, metric="roc_auc").served == "rfm"


def test_best_rival_skips_the_served_candidate():
    holdout = {"a": {"gini": 0.6}, "b": {"gini": 0.7}, "c": {"mae": 1.0}}
    assert best_rival(holdout, metric="gini", served="kizuna", higher_is_better=True) == ("b", 0.7)
    assert best_rival(holdout, metric="gini", served="b", higher_is_better=True) == ("a", 0.6)
    assert best_rival({}, metric="gini", served="kizuna", higher_is_better=True) is None


def test_a_version_that_does_not_beat_its_baseline_is_never_promoted():
    alias, reason = decide_alias(0.6833, champion_metric=None, baseline=("bgnbd", 0.6863))
    assert alias == CHALLENGER and "does not beat its baseline bgnbd" in reason
    assert decide_alias(0.69, champion_metric=None, baseline=("bgnbd", 0.6863))[0] == CHAMPION
    alias, _ = decide_alias(12.0, champion_metric=None, higher_is_better=False, baseline=("b", 11))
    assert alias == CHALLENGER


def _snapshot(n: int, seed: int, *, with_btyd: bool = False) -> Snapshot:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "recency_days": rng.exponential(60, n),
            "frequency": rng.poisson(3, n) + 1.0,
            "monetary_mean": rng.gamma(2, 20, n),
            "noise": rng.normal(size=n),
        },
        index=pd.Index([f"c{seed}_{i}" for i in range(n)], name="customer_id"),
    )
    logit = -2.0 + 1.2 * np.log1p(X["recency_days"]) * 0.6 - 0.8 * np.log1p(X["frequency"])
    churn = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), index=X.index)
    expected = X["frequency"] * X["monetary_mean"] * np.exp(-X["recency_days"] / 90)
    value = pd.Series(expected * rng.gamma(20, 1 / 20, n), index=X.index)
    if with_btyd:
        X[EXPECTED_VALUE] = expected
    return Snapshot(pd.Timestamp("2024-01-01"), X, churn, value, None, None)


def test_churn_falls_back_to_the_rfm_baseline_when_it_wins_on_validation():
    train, val, test = _snapshot(3_000, 0), _snapshot(2_000, 1), _snapshot(2_000, 2)
    config = ChurnConfig(params=CRIPPLED, calibration="sigmoid")
    result = train_churn([train], val, test, config, seed=0, btyd_unit="W", horizon_days=90)
    assert result.selection.served == "rfm_logistic"
    assert isinstance(result.bundle.model, RFMLogisticBaseline)
    assert result.metrics == result.baselines["rfm_logistic"]
    assert result.extra_metrics["lightgbm_roc_auc"] < result.metrics["roc_auc"]
    v = result.selection.validation
    assert v["rfm_logistic"] > v[TUNED]


def test_churn_serves_the_booster_when_it_wins_on_validation():
    train, val, test = _snapshot(3_000, 0), _snapshot(2_000, 1), _snapshot(2_000, 2)
    for frame in (train, val, test):  # a threshold effect a linear model cannot see
        frame.churn.loc[:] = ((frame.X["noise"].abs() > 1.0) ^ (frame.X["noise"] > 2)).astype(int)
    config = ChurnConfig(params={"n_estimators": 50, "num_leaves": 4}, calibration="sigmoid")
    result = train_churn([train], val, test, config, seed=0, btyd_unit="W", horizon_days=90)
    assert result.selection.served == TUNED
    assert isinstance(result.bundle.model, ChurnClassifier)


def test_ltv_falls_back_to_the_btyd_forecast_when_it_wins_on_validation():
    snaps = [_snapshot(3_000, s, with_btyd=True) for s in (0, 1, 2)]
    config = LTVConfig(params=CRIPPLED, primary_metric="mae")
    result = train_ltv(snaps[:1], snaps[1], snaps[2], config, seed=0, btyd_unit="W",
                       horizon_days=90)  # fmt: skip
    assert result.selection.served == "bgnbd_gamma_gamma"
    assert isinstance(result.bundle.model, ColumnForecast)
    assert result.metrics == result.baselines["bgnbd_gamma_gamma"]
    value, reasons = result.bundle.model.predict_with_reasons(snaps[2].X.head(3))
    np.testing.assert_allclose(value, snaps[2].X[EXPECTED_VALUE].head(3))
    assert reasons[0][0]["feature"] == EXPECTED_VALUE


@pytest.mark.parametrize("drop", [(), ("plan",)])
def test_attribute_logistic_baseline_uses_every_attribute_unless_dropped(drop):
    rng = np.random.default_rng(0)
    n = 3_000
    plan = rng.choice(["basic", "plus", "pro"], n)
    tenure = rng.integers(1, 72, n).astype(float)
    tenure[::37] = np.nan
    X = pd.DataFrame({"plan": plan, "tenure": tenure, "charges": [f"{v:.2f}" for v in
                      rng.uniform(20, 100, n)]})  # fmt: skip
    logit = 2.0 * (plan == "basic") - 0.05 * np.nan_to_num(tenure, nan=36) - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = AttributeLogisticBaseline(drop=drop, calibration=None).fit(X[:2000], y[:2000])
    assert ("plan" in model.feature_names_in_) == (not drop)
    proba, reasons = model.predict_with_reasons(X[2000:], top_n=2)
    np.testing.assert_allclose(proba, model.predict_proba(X[2000:])[:, 1])
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(y[2000:], proba)
    assert auc > (0.75 if not drop else 0.6)
    assert all(len(r) <= 2 for r in reasons)


def test_random_user_protocol_holds_out_items_and_serves_the_best_on_validation(tmp_path):
    from kizuna.features.interactions import build_interactions
    from kizuna.features.validate import validate_transactions
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.config import RecommenderConfig
    from kizuna.training.random_holdout import random_user_split
    from kizuna.training.train_recommender import train_recommender

    shop = generate_shop(ShopConfig(n_customers=600, seed=3))
    tx = validate_transactions(shop.transactions).kept
    history = build_interactions(tx, tx["timestamp"].max() + pd.Timedelta(seconds=1))
    split = random_user_split(history, fraction=0.3, seed=0)
    train, truth = split.train.matrix, split.truth["all"]
    assert train.nnz + truth.nnz == history.matrix.nnz
    assert truth.multiply(train[split.user_codes]).nnz == 0  # held-out items are unseen
    assert np.all(np.diff(train[split.user_codes].indptr) > 0)  # nobody loses everything
    config = RecommenderConfig(
        protocol="random_user",
        primary_mode="new",
        candidates=["global_popularity", "item_knn_bm25"],
        tune_weights=False,
    )
    result = train_recommender(tx, pd.Timestamp("2024-10-01"), 90, config, seed=0)
    values = result.selection.validation
    assert values[result.selection.served] == max(values.values())
    served = result.selection.served
    if served != TUNED:
        assert result.metrics == result.baselines[served]
        assert type(result.bundle.model).__name__ != "HybridRecommender"


def test_random_user_judges_the_all_mode_without_training_items():
    # Under the protocol the truth holds no training item, so both modes rank with the
    # customer's training items left out and score alike (before, `all` ranked them in
    # and understated every model).
    from kizuna.features.interactions import build_interactions
    from kizuna.features.validate import validate_transactions
    from kizuna.models.recommenders.item_knn import ItemKNNRecommender
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.random_holdout import random_user_split
    from kizuna.training.recommender_eval import evaluate_recommenders

    shop = generate_shop(ShopConfig(n_customers=400, seed=5))
    tx = validate_transactions(shop.transactions).kept
    history = build_interactions(tx, tx["timestamp"].max() + pd.Timedelta(seconds=1))
    split = random_user_split(history, fraction=0.3, seed=0)
    table = evaluate_recommenders({"knn": ItemKNNRecommender()}, split, k=10)
    ndcg = table[table["metric"] == "ndcg"].set_index("mode")["value"]
    assert ndcg["all"] == ndcg["new"] > 0
