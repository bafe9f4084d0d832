"""Classification and regression metrics on tiny arrays worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kizuna.features.errors import KizunaInputError
from kizuna.training.metrics_regression import (
    decile_calibration,
    mae,
    normalised_gini,
    regression_report,
    rmse,
    spearman,
    total_revenue_error,
)
from kizuna.training.metrics_tabular import (
    brier,
    capture_rate_top_decile,
    classification_report,
    lift_top_decile,
    log_loss,
    pr_auc,
    roc_auc,
)

# --- classification ---------------------------------------------------------------


def test_roc_auc_counts_correctly_ordered_pairs() -> None:
    # Pairs (churner, stayer): (0.35 > 0.1) yes, (0.35 > 0.4) no, (0.8 > both) yes, yes -> 3/4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5  # a tie counts half


def test_pr_auc_is_average_precision() -> None:
    # Ranked: 0.8 (1), 0.4 (0), 0.35 (1), 0.1 (0): precision 1/1 at recall 0.5, 2/3 at recall 1.
    assert pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_brier_and_log_loss() -> None:
    assert brier([0, 1], [0.2, 0.7]) == pytest.approx((0.2**2 + 0.3**2) / 2)
    assert log_loss([1, 0], [0.8, 0.3]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    # One class is fine for these two (a holdout slice may have no churner).
    assert brier([0, 0], [0.0, 0.5]) == pytest.approx(0.125)
    assert math.isfinite(log_loss([1], [0.0]))  # clipped, not infinite


def test_lift_and_capture_with_ten_rows() -> None:
    y = [1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    score = [0.9, 0.1, 0.2, 0.3, 0.1, 0.0, 0.2, 0.4, 0.1, 0.1]
    # Top decile = 1 row (0.9, a churner): churn rate 1 against 2/10 overall.
    assert lift_top_decile(y, score) == pytest.approx(5.0)
    assert capture_rate_top_decile(y, score) == pytest.approx(0.5)
    # Worst case: the top row (0.4) stays.
    worst = [0.0, 0.1, 0.2, 0.0, 0.1, 0.0, 0.2, 0.4, 0.1, 0.1]
    assert lift_top_decile(y, worst) == 0.0
    assert capture_rate_top_decile(y, worst) == 0.0


def test_top_decile_size_and_ties() -> None:
    # 30 rows -> exactly 3 in the top decile (0.1 * 30 is 3.0000000000000004 in floats).
    y = np.zeros(30, dtype=int)
    y[[0, 1, 2, 3]] = 1
    score = np.zeros(30)
    score[[0, 1, 2, 3]] = [0.9, 0.8, 0.7, 0.6]
    assert capture_rate_top_decile(y, score) == pytest.approx(3 / 4)
    # All tied: stable order keeps the first rows, so the top 3 are rows 0..2.
    assert capture_rate_top_decile(y, np.ones(30)) == pytest.approx(3 / 4)
    assert lift_top_decile(y[::-1], np.ones(30)) == 0.0
    # 11 rows -> ceil(1.1) = 2.
    assert capture_rate_top_decile([1, 1] + [0] * 8 + [1], [1.0, 0.9] + [0.0] * 9) == pytest.approx(
        2 / 3
    )


def test_classification_report_has_every_metric() -> None:
    report = classification_report([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert set(report) == {
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "lift_top_decile",
        "capture_rate_top_decile",
    }
    assert report["roc_auc"] == 0.75


@pytest.mark.parametrize(
    ("y", "score", "message"),
    [
        ([0, 1, 1], [0.2, 0.4], "3 values"),
        ([0, 2], [0.2, 0.4], "0 or 1"),
        ([1, 1], [0.2, 0.4], "both classes"),
        ([0, 1], [0.2, np.nan], "missing"),
        ([], [], "no rows"),
    ],
)
def test_classification_input_errors(y: list, score: list, message: str) -> None:
    with pytest.raises(KizunaInputError, match=message):
        roc_auc(y, score)


def test_probabilities_outside_zero_one_are_refused() -> None:
    with pytest.raises(KizunaInputError, match=r"\[0, 1\]"):
        brier([0, 1], [0.2, 1.3])


# --- regression -------------------------------------------------------------------


def test_mae_rmse() -> None:
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))


def test_spearman() -> None:
    # Rank differences 0, 0, 1, -1: rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))


def test_normalised_gini_by_hand() -> None:
    actual = [1.0, 2.0, 3.0, 4.0]
    # Ordered by prediction the actuals read 4, 2, 3, 1: cumulative 4, 6, 9, 10 -> sum 29.
    # Gini = (29 / 10 - 2.5) / 4 = 0.1; the ideal order 4, 3, 2, 1 gives (30 / 10 - 2.5) / 4.
    assert normalised_gini(actual, [0.1, 0.3, 0.2, 0.9]) == pytest.approx(0.1 / 0.125)
    assert normalised_gini(actual, actual) == pytest.approx(1.0)
    assert normalised_gini(actual, actual[::-1]) == pytest.approx(-1.0)
    assert normalised_gini([0, 0, 1], [0.1, 0.2, 0.9]) == pytest.approx(1.0)


def test_normalised_gini_averages_ties() -> None:
    actual = [4.0, 2.0, 3.0, 1.0]
    # Tied groups {4, 2} and {3, 1} count as their means 3, 3, 2, 2:
    # cumulative 3, 6, 8, 10 -> (27 / 10 - 2.5) / 4 = 0.05; ideal 0.125.
    assert normalised_gini(actual, [1, 1, 0, 0]) == pytest.approx(0.4)
    assert normalised_gini(actual, [7, 7, 7, 7]) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(normalised_gini([0, 0], [1, 2]))


def test_decile_calibration_table() -> None:
    pred = np.arange(20.0)
    table = decile_calibration(2 * pred, pred)
    assert list(table.columns) == ["decile", "mean_predicted", "mean_actual", "count"]
    assert table["decile"].tolist() == list(range(1, 11))
    assert table.iloc[0].tolist() == [1, 18.5, 37.0, 2]  # rows 19 and 18
    assert table.iloc[-1].tolist() == [10, 0.5, 1.0, 2]
    # Fewer rows than bins: one row per group, empty groups left out.
    small = decile_calibration([5.0, 0.0, 1.0], [0.2, 0.9, 0.5])
    pd.testing.assert_frame_equal(
        small,
        pd.DataFrame(
            {
                "decile": [1, 2, 3],
                "mean_predicted": [0.9, 0.5, 0.2],
                "mean_actual": [0.0, 1.0, 5.0],
                "count": [1, 1, 1],
            }
        ),
    )
    # 12 rows in 10 bins: the first two bins take the spare rows.
    assert decile_calibration(np.ones(12), np.arange(12.0))["count"].tolist() == [2, 2] + [1] * 8


def test_total_revenue_error() -> None:
    assert total_revenue_error([10, 0, 30], [20, 5, 25]) == pytest.approx(0.25)
    with pytest.raises(KizunaInputError, match="totals 0"):
        total_revenue_error([0, 0], [1, 2])


def test_regression_report_has_every_metric() -> None:
    report = regression_report([10.0, 0.0, 30.0], [20.0, 5.0, 25.0])
    assert set(report) == {"mae", "rmse", "spearman", "normalised_gini", "total_revenue_error"}
    assert report["mae"] == pytest.approx(20 / 3)


def test_regression_input_errors() -> None:
    with pytest.raises(KizunaInputError, match="y_pred has 1"):
        mae([1.0, 2.0], [1.0])
    with pytest.raises(KizunaInputError, match="infinite"):
        rmse([1.0, np.inf], [1.0, 2.0])
