"""Champion/challenger rule and run metadata, without a tracking server."""

from __future__ import annotations

import math

import pandas as pd

from kizuna.training.registration import CHALLENGER, CHAMPION, decide_alias
from kizuna.training.tracking import dataset_fingerprint


def test_no_champion_means_the_new_version_is_champion():
    assert decide_alias(0.5, champion_metric=None)[0] == CHAMPION


def test_strictly_better_wins_and_a_tie_does_not():
    assert decide_alias(0.81, champion_metric=0.80)[0] == CHAMPION
    assert decide_alias(0.80, champion_metric=0.80)[0] == CHALLENGER
    assert decide_alias(0.79, champion_metric=0.80)[0] == CHALLENGER


def test_lower_is_better_metrics_flip_the_comparison():
    assert decide_alias(10.0, champion_metric=12.0, higher_is_better=False)[0] == CHAMPION
    assert decide_alias(13.0, champion_metric=12.0, higher_is_better=False)[0] == CHALLENGER


def test_a_nan_metric_never_takes_the_champion_alias():
    assert decide_alias(math.nan, champion_metric=0.8)[0] == CHALLENGER


def test_fingerprint_changes_with_any_value_and_records_rows_and_as_of():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    first = dataset_fingerprint(frame, source="s", as_of="2024-01-01")
    assert first["dataset_rows"] == 3 and first["as_of"] == "2024-01-01"
    changed = frame.assign(b=["x", "y", "w"])
    assert (
        dataset_fingerprint(changed, source="s", as_of="2024-01-01")["dataset_hash"]
        != first["dataset_hash"]
    )
    assert dataset_fingerprint(frame, source="s", as_of="2024-01-01") == first


def test_the_holdout_key_ignores_lines_after_the_holdout_window():
    from kizuna.training.run_metadata import holdout_key

    base = {"dataset_source": "csv:o.csv", "as_of": "2024-06-01", "holdout_hash": "abc"}
    later = holdout_key({**base, "dataset_hash": "1", "dataset_rows": 10}, 90)
    more = holdout_key({**base, "dataset_hash": "2", "dataset_rows": 11}, 90)  # events after it
    assert later == more
    assert holdout_key({**base, "holdout_hash": "abd", "dataset_hash": "1"}, 90) != later
    assert holdout_key({**base, "dataset_hash": "1"}, 60) != later
    # without a window (contractual churn on a customers table) every row counts
    assert holdout_key({"dataset_hash": "1"}, 90) != holdout_key({"dataset_hash": "2"}, 90)


def test_recommenders_judged_under_other_protocols_are_not_compared():
    from kizuna.training.config import ExperimentConfig
    from kizuna.training.run_metadata import kind_key

    def config(**recommender):
        return ExperimentConfig.model_validate(
            {
                "name": "x",
                "data": {"transactions": "o.csv"},
                "split": {"as_of": "2024-06-01"},
                "recommender": recommender,
            }
        )

    data = {"dataset_hash": "h1"}
    time = kind_key("recommender", config(), data)
    random = kind_key("recommender", config(protocol="random_user"), data)
    assert time != random
    assert random != kind_key("recommender", config(protocol="random_user"), {"dataset_hash": "h2"})
    other = config(protocol="random_user", holdout_fraction=0.3)
    assert random != kind_key("recommender", other, data)
