"""Level rules for horizon revenue: forecasts from finished windows only, worked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.features.pipeline import customer_labels
from kizuna.features.validate import validate_transactions
from kizuna.models.btyd_features import EXPECTED_VALUE
from kizuna.training.ltv_level import (
    LEVEL_METHODS,
    backtest_levels,
    forecast_ratio,
    rolling_levels,
)
from kizuna.training.snapshots import model_inputs
from tests.training.byod_fixtures import shop_transactions

HORIZON = 14


@pytest.fixture
def levels() -> pd.DataFrame:
    """Weekly cutoffs whose ratio climbs 0.2 a week: 1.0, 1.2, 1.4, 1.6."""
    cutoffs = pd.date_range("2024-01-01", periods=4, freq="7D")
    return pd.DataFrame({"cutoff": cutoffs, "ratio": [1.0, 1.2, 1.4, 1.6]})


def test_each_rule_reads_only_windows_that_ended_by_the_origin(levels) -> None:
    # origin 01-29, horizon 14 days: windows starting 01-01, 01-08, 01-15 have ended
    origin = pd.Timestamp("2024-01-29")
    got = {m: forecast_ratio(levels, origin, horizon_days=HORIZON, method=m) for m in LEVEL_METHODS}
    assert got["bgnbd"] == 1.0
    assert got["last_window"] == pytest.approx(1.4)
    assert got["mean_of_year"] == pytest.approx(1.2)
    assert got["linear_trend"] == pytest.approx(1.8)  # 1.4 at 01-15, +0.2 a week for two weeks
    changed = levels.assign(ratio=[1.0, 1.2, 1.4, 99.0])  # the 01-22 window ends 02-05
    for method in LEVEL_METHODS:
        again = forecast_ratio(changed, origin, horizon_days=HORIZON, method=method)
        assert again == pytest.approx(got[method])


def test_windows_older_than_the_memory_are_forgotten(levels) -> None:
    origin = pd.Timestamp("2024-01-29")
    kept = forecast_ratio(
        levels, origin, horizon_days=HORIZON, method="mean_of_year", window_days=21
    )
    assert kept == pytest.approx(1.3)  # 01-08 and 01-15 started within 21 days (inclusive)
    none = forecast_ratio(levels, origin, horizon_days=HORIZON, method="last_window", window_days=7)
    assert math.isnan(none)
    one = forecast_ratio(
        levels, origin, horizon_days=HORIZON, method="linear_trend", window_days=20
    )
    assert math.isnan(one)  # a line needs two windows


def test_the_backtest_scores_each_rule_from_the_windows_before_each_cutoff(levels) -> None:
    table = backtest_levels(levels, horizon_days=HORIZON)
    # 01-01 and 01-08 have no finished window before them; 01-15 has one (1.0),
    # 01-22 has two (1.0, 1.2)
    assert list(table["cutoff"]) == list(pd.to_datetime(["2024-01-15", "2024-01-22"]))
    first, second = table.iloc[0], table.iloc[1]
    assert first["last_window"] == pytest.approx(1.0 / 1.4 - 1)
    assert math.isnan(first["linear_trend"])  # one window draws no line
    assert second["bgnbd"] == pytest.approx(1.0 / 1.6 - 1)
    assert second["last_window"] == pytest.approx(1.2 / 1.6 - 1)
    assert second["mean_of_year"] == pytest.approx(1.1 / 1.6 - 1)
    assert second["linear_trend"] == pytest.approx(0.0)  # the line through 1.0, 1.2 reaches 1.6


def test_an_unknown_rule_is_refused(levels) -> None:
    with pytest.raises(KizunaInputError, match="unknown level method"):
        forecast_ratio(levels, pd.Timestamp("2024-02-01"), horizon_days=HORIZON, method="magic")


def test_rolling_levels_sum_the_labels_and_the_btyd_forecast_of_each_cutoff() -> None:
    # the synthetic shop's purchases follow BG/NBD x Gamma-Gamma, so the fits are sound
    tx = validate_transactions(shop_transactions(400, seed=3)).kept
    cutoffs = [pd.Timestamp("2022-06-01"), pd.Timestamp("2024-03-01"), pd.Timestamp("2024-06-01")]
    table = rolling_levels(tx, cutoffs, horizon_days=90, lookback_days=365)
    assert list(table["cutoff"]) == cutoffs[1:]  # nobody before 2022-06-01: left out
    for row in table.itertuples():
        labels = customer_labels(tx, row.cutoff, horizon_days=90, lookback_days=365)
        X, _, _ = model_inputs(tx, row.cutoff, horizon_days=90)
        assert row.customers == len(labels)
        assert row.actual == pytest.approx(labels["future_value"].sum())
        assert row.forecast == pytest.approx(X.loc[labels.index, EXPECTED_VALUE].sum())
        assert row.forecast > 0
        assert row.ratio == pytest.approx(row.actual / row.forecast)
