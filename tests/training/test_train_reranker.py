"""The two-stage recommender inside ``train_recommender``: served only when it wins on validation."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from kizuna.features.validate import validate_transactions
from kizuna.models.recommenders import HybridRecommender
from kizuna.models.recommenders.reranker import RerankedRecommender
from kizuna.simulators.synthetic import ShopConfig, generate_shop
from kizuna.training.config import RecommenderConfig
from kizuna.training.selection import TUNED
from kizuna.training.train_recommender import train_recommender

FAST = {"generator_params": {"als_factors": 8, "als_iterations": 5}, "n_estimators": 20,
        "min_child_samples": 20}  # fmt: skip


def test_the_served_recommender_is_the_best_on_validation_and_never_a_loser():
    shop = generate_shop(ShopConfig(n_customers=600, seed=3))
    tx = validate_transactions(shop.transactions).kept
    config = RecommenderConfig(
        candidates=["global_popularity", "personal_popularity", "item_knn_bm25"],
        tune_weights=False, rerank_params=FAST,
    )  # fmt: skip
    result = train_recommender(tx, pd.Timestamp("2024-10-01"), 90, config, seed=0)
    values = result.selection.validation
    assert {"hybrid", TUNED, "item_knn_bm25"} <= set(values)
    served = result.selection.served
    assert values[served] == max(values.values())
    model = result.bundle.model
    if served == TUNED:
        assert isinstance(model, RerankedRecommender) and "two-stage" in result.selection.reason
        assert set(model.rank_modes) <= {"all", "new"}
        again = pickle.loads(pickle.dumps(model))  # the registry stores it with joblib
        users = np.arange(5)
        np.testing.assert_array_equal(
            again.recommend(users, result.bundle.history[users], 5)[0],
            model.recommend(users, result.bundle.history[users], 5)[0],
        )
    elif served == "hybrid":
        assert isinstance(model, HybridRecommender)
    assert "hybrid" in result.baselines  # listed on the holdout next to the baselines
