"""RFM scores and segments: hand-worked quintiles, tie rules, and a complete rule table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.rfm_scoring import rfm_scores
from kizuna.features.segments import (
    SEGMENT_RULES,
    SEGMENTS,
    fm_scores,
    rfm_segments,
    segment_grid,
)

NAMED = (
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
)


def _summary(frequency, recency, t, monetary) -> pd.DataFrame:
    index = pd.Index([f"c{i}" for i in range(len(frequency))], name=s.CUSTOMER_ID)
    return pd.DataFrame(
        {s.REPEAT_PERIODS: frequency, s.RECENCY: recency, s.T: t, s.MONETARY_VALUE: monetary},
        index=index,
        dtype=float,
    )


def test_distinct_values_give_one_customer_per_score():
    # Time since last purchase (T - recency): 10-0=10, 10-6=4, 10-9=1, 10-2=8, 10-10=0.
    # Most recent (0) -> 5, then 1 -> 4, 4 -> 3, 8 -> 2, 10 -> 1.
    summary = _summary(
        frequency=[0, 3, 1, 4, 2],
        recency=[0, 6, 9, 2, 10],
        t=[10, 10, 10, 10, 10],
        monetary=[0, 30, 10, 50, 20],
    )
    got = rfm_scores(summary)
    assert got[s.R_SCORE].tolist() == [1, 3, 4, 2, 5]
    assert got[s.F_SCORE].tolist() == [1, 4, 2, 5, 3]
    assert got[s.M_SCORE].tolist() == [1, 4, 2, 5, 3]
    assert got[s.RFM_SCORE].tolist() == ["111", "344", "422", "255", "533"]
    assert got.index.equals(summary.index)


def test_ties_min_share_a_score_and_can_skip_scores():
    # frequency 0,0,0,1,2 (n=5): a score is 1 + floor(5 * b / 5) with b the number
    # of customers strictly lower: 0 -> b=0 -> 1; 1 -> b=3 -> 4; 2 -> b=4 -> 5.
    summary = _summary([0, 0, 0, 1, 2], [0] * 5, [5] * 5, [0, 0, 0, 7, 9])
    got = rfm_scores(summary)
    assert got[s.F_SCORE].tolist() == [1, 1, 1, 4, 5]
    assert got[s.M_SCORE].tolist() == [1, 1, 1, 4, 5]
    # Everyone last bought at the same time: one tie group, all score 1.
    assert got[s.R_SCORE].tolist() == [1, 1, 1, 1, 1]


def test_ties_first_splits_ties_by_row_order():
    # rank(method="first") of 0,0,0,1,2 is 1..5, so exact quintiles: 1..5.
    summary = _summary([0, 0, 0, 1, 2], [0] * 5, [5] * 5, [0, 0, 0, 7, 9])
    got = rfm_scores(summary, ties="first")
    assert got[s.F_SCORE].tolist() == [1, 2, 3, 4, 5]
    assert got[s.R_SCORE].tolist() == [1, 2, 3, 4, 5]


def test_ten_customers_fill_each_score_twice():
    # b = 0..9 -> 1 + floor(b / 2): 1,1,2,2,3,3,4,4,5,5.
    summary = _summary(list(range(10)), [0] * 10, [3] * 10, list(range(10)))
    assert rfm_scores(summary)[s.F_SCORE].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_recency_column_can_already_be_time_since_last_purchase():
    features = pd.DataFrame(
        {"days_since_last": [30.0, 1.0, 400.0], "orders": [1, 5, 2], "spend": [10.0, 90.0, 40.0]}
    )
    got = rfm_scores(
        features,
        recency_col="days_since_last",
        t_col=None,
        frequency_col="orders",
        monetary_col="spend",
    )
    # n=3: b=0,1,2 -> 1, 2, 4. Recent is good: 1 day -> 4, 30 -> 2, 400 -> 1.
    assert got[s.R_SCORE].tolist() == [2, 4, 1]
    assert got[s.F_SCORE].tolist() == [1, 4, 2]
    assert got[s.M_SCORE].tolist() == [1, 4, 2]


def test_every_r_fm_cell_is_in_exactly_one_rule():
    for r, fm in itertools.product(range(1, 6), repeat=2):
        hits = [
            rule.segment
            for rule in SEGMENT_RULES
            if rule.r[0] <= r <= rule.r[1] and rule.fm[0] <= fm <= rule.fm[1]
        ]
        assert len(hits) == 1, (r, fm, hits)


def test_every_score_combination_maps_to_its_rule():
    combos = np.array(list(itertools.product(range(1, 6), repeat=3)))
    scores = pd.DataFrame(combos, columns=[s.R_SCORE, s.F_SCORE, s.M_SCORE])
    got = rfm_segments(scores)
    assert got.notna().all() and len(got) == 125
    for (r, f, m), name in zip(combos, got, strict=True):
        fm = -(-(f + m) // 2)  # mean rounded half up
        (rule,) = [x for x in SEGMENT_RULES if x.segment == name]
        assert rule.r[0] <= r <= rule.r[1] and rule.fm[0] <= fm <= rule.fm[1]


def test_the_named_segments_all_exist_once():
    assert sorted(SEGMENTS) == sorted(NAMED)
    assert segment_grid().stack().nunique() == len(NAMED)


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 4, "Champions"),  # fm = ceil(9 / 2) = 5
        (5, 1, 1, "New"),
        (4, 1, 1, "Promising"),
        (4, 2, 3, "Potential loyalists"),  # fm = 3
        (3, 3, 4, "Loyal"),  # fm = 4
        (3, 3, 3, "Need attention"),
        (3, 1, 2, "About to sleep"),  # fm = 2
        (2, 4, 3, "At risk"),  # fm = 4
        (1, 5, 5, "Can't lose them"),
        (2, 1, 1, "Hibernating"),
        (1, 2, 1, "Lost"),  # fm = 2
    ],
)
def test_segments_by_hand(r, f, m, segment):
    scores = pd.DataFrame({s.R_SCORE: [r], s.F_SCORE: [f], s.M_SCORE: [m]}, index=["x"])
    got = rfm_segments(scores)
    assert got.name == s.SEGMENT and got.loc["x"] == segment


def test_fm_score_rounds_halves_up():
    assert fm_scores(np.array([1, 1, 2, 5]), np.array([1, 2, 2, 4])).tolist() == [1, 2, 2, 5]


def test_scores_then_segments_end_to_end():
    summary = _summary([0, 3, 1, 4, 2], [0, 6, 9, 2, 10], [10] * 5, [0, 30, 10, 50, 20])
    got = rfm_segments(rfm_scores(summary))
    # Scores from the first test: 111 Lost, 344 Loyal, 422 Potential loyalists,
    # 255 Can't lose them, 533 Potential loyalists.
    assert got.tolist() == [
        "Lost",
        "Loyal",
        "Potential loyalists",
        "Can't lose them",
        "Potential loyalists",
    ]


def test_empty_summary_gives_empty_scores_and_segments():
    got = rfm_scores(_summary([], [], [], []))
    assert got.empty and list(got.columns) == [s.R_SCORE, s.F_SCORE, s.M_SCORE, s.RFM_SCORE]
    assert rfm_segments(got).empty


def test_bad_input_raises():
    summary = _summary([0, 1], [0, 1], [2, 2], [0, 5])
    with pytest.raises(KizunaInputError, match="ties"):
        rfm_scores(summary, ties="average")
    with pytest.raises(KizunaInputError, match="monetary_value"):
        rfm_scores(summary.drop(columns=s.MONETARY_VALUE))
    with pytest.raises(KizunaInputError, match="repeat_periods.*missing"):
        rfm_scores(summary.assign(**{s.REPEAT_PERIODS: [np.nan, 1.0]}))
    scores = pd.DataFrame({s.R_SCORE: [0], s.F_SCORE: [1], s.M_SCORE: [6]})
    with pytest.raises(KizunaInputError, match="r_score.*1..5"):
        rfm_segments(scores)
