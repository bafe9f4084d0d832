"""Figures read from the evaluation's deeper rankings equal those recomputed at their own depth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.training.recommender_eval import default_models, evaluate_recommenders, holdout_split
from kizuna.training.recommender_figures import RECALL_KS, purchase_rate_by_rank, recall_curves
from tests.training.test_recommender_eval import AS_OF, _log


def _models() -> dict:
    every = default_models(random_state=0)
    return {name: every[name] for name in ("global_popularity", "personal_popularity", "als")}


def test_deeper_rankings_give_the_same_metrics_and_figures() -> None:
    holdout = holdout_split(_log(), AS_OF, 10, trend_days=7)
    plain = evaluate_recommenders(_models(), holdout, k=2)
    models, rankings = _models(), {}
    deep = evaluate_recommenders(
        models, holdout, k=2, depth=max(RECALL_KS), recommendations=rankings
    )
    timing = ["fit_seconds", "recommend_seconds"]
    pd.testing.assert_frame_equal(
        plain[~plain["metric"].isin(timing)].reset_index(drop=True),
        deep[~deep["metric"].isin(timing)].reset_index(drop=True),
    )
    # personal popularity recommends only bought items: it has no "new" ranking
    assert set(rankings) == set(models) and "new" not in rankings["personal_popularity"]
    assert all(r.shape[1] == max(RECALL_KS) for m in rankings.values() for r in m.values())
    ranked_all = {name: r["all"] for name, r in rankings.items()}
    for name, (ks, recalls) in recall_curves(models, holdout, ranked_all).items():
        ks_again, recalls_again = recall_curves({name: models[name]}, holdout)[name]
        np.testing.assert_array_equal(ks, ks_again)
        np.testing.assert_array_equal(recalls, recalls_again)
    np.testing.assert_array_equal(
        purchase_rate_by_rank(models["als"], holdout, 2, rankings["als"]["new"]),
        purchase_rate_by_rank(models["als"], holdout, 2),
    )
