"""The README tables are rendered from a run's summary, with hand-checked cells."""

from __future__ import annotations

from kizuna.training.results_tables import render


def test_render_shows_the_served_model_its_baselines_and_the_margins():
    summary = {
        "experiment": "tiny",
        "fingerprint": {"dataset_hash": "abc"},
        "models": {
            "recommender": {
                "primary_metric": "ndcg_at_10",
                "metrics": {"ndcg_at_10": 0.44, "new_ndcg_at_10": 0.11},
                "baselines": {
                    "personal_popularity": {"ndcg_at_10": 0.40},
                    "item_knn_bm25": {"ndcg_at_10": 0.30, "new_ndcg_at_10": 0.10},
                },
                "served": "kizuna",
                "selection": "the tuned model is not beaten on validation",
            },
            "ltv": {
                "primary_metric": "normalised_gini",
                "metrics": {"normalised_gini": 0.7, "mae": 540.2, "total_revenue_error": -0.236},
                "baselines": {"bgnbd_gamma_gamma": {"normalised_gini": 0.71, "mae": 564.2}},
                "served": "bgnbd_gamma_gamma",
                "extra_metrics": {
                    "interval_p10_p90_coverage": 0.81,
                    "interval_p10_p90_mean_width": 1234.5,
                },
            },
        },
        "registry": {"ltv": {"version": 2, "alias": "challenger", "reason": "does not beat"}},
    }
    text = render(summary)
    assert "| **served: kizuna hybrid** | **0.4400** | **0.1100** |" in text
    assert '| personal popularity ("buy again") | 0.4000 | — |' in text
    # 0.44 / 0.40 - 1 = +10.0%; 0.11 / 0.10 - 1 = +10.0%
    assert "+10.0% (personal popularity" in text and "+10.0% (BM25 item" in text
    assert "| normalised Gini (primary) | 0.7000 | 0.7100 |" in text
    assert "| MAE | 540.2 | 564.2 |" in text
    assert "| total revenue error | −23.6% | — |" in text
    assert "holdout coverage 0.810" in text
    assert "v2 @challenger (does not beat)" in text
