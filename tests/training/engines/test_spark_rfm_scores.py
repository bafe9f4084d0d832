"""The Spark engine's RFM score expressions give what the pandas scorer gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.features import schema as s
from kizuna.features.pipeline import behaviour_rfm_scorer, with_rfm_scores
from kizuna.features.segments import SEGMENTS

pytestmark = pytest.mark.spark


def scores_on_spark(spark, frame: pd.DataFrame, scorer) -> pd.DataFrame:
    from kizuna.training.engines.spark_features import rfm_score_columns

    rows = spark.createDataFrame(frame.reset_index())
    out = rows.select(s.CUSTOMER_ID, *rfm_score_columns(scorer)).toPandas()
    return out.set_index(s.CUSTOMER_ID).sort_index()


def pandas_scores(frame: pd.DataFrame, scorer) -> pd.DataFrame:
    cols = [s.R_SCORE, s.F_SCORE, s.M_SCORE, s.RFM_SCORE, s.SEGMENT]
    out = with_rfm_scores(frame, scorer)[cols].sort_index()
    out[s.RFM_SCORE] = out[s.RFM_SCORE].astype(object)
    out[s.SEGMENT] = out[s.SEGMENT].astype(object)
    return out


def test_eleven_customers_by_hand(spark):
    """Cut points 0, 1, 3, 5: a value at a cut point does not exceed it."""
    values = np.array([0, 0, 0, 1, 1, 2, 3, 3, 5, 8, 13], dtype=float)
    frame = pd.DataFrame(
        {s.RECENCY_DAYS: 20 - values, s.FREQUENCY: values, s.MONETARY_TOTAL: values},
        index=pd.Index([f"c{i:02d}" for i in range(11)], name=s.CUSTOMER_ID),
    )
    scorer = behaviour_rfm_scorer().fit(frame)
    got = scores_on_spark(spark, frame, scorer)
    # b (values strictly below) = 0,0,0,3,3,5,6,6,8,9,10 -> 1 + floor(5 b / 11)
    assert got[s.F_SCORE].tolist() == [1, 1, 1, 2, 2, 3, 3, 3, 4, 5, 5]
    assert got[s.R_SCORE].tolist() == got[s.F_SCORE].tolist()  # recency 20 - v ranks as v
    assert got[s.RFM_SCORE].tolist()[-1] == "555"
    assert got[s.SEGMENT].tolist()[0] == "Lost"  # r 1, fm 1
    assert got[s.SEGMENT].tolist()[-1] == "Champions"  # r 5, fm 5
    pd.testing.assert_frame_equal(got, pandas_scores(frame, scorer), check_dtype=False)


def test_every_grid_cell_and_ties_equal_the_pandas_scorer(spark):
    """Integer-valued columns with many ties (every value a cut point somewhere), whole
    days with -0.0, and most (r, f, m) cells: the same scores, text and segments."""
    rng = np.random.default_rng(3)
    n = 3_000
    frame = pd.DataFrame(
        {
            s.RECENCY_DAYS: rng.integers(0, 12, n).astype(float),
            s.FREQUENCY: rng.geometric(0.4, n),
            s.MONETARY_TOTAL: np.round(rng.lognormal(3, 1, n), 2),
        },
        index=pd.Index([f"c{i:05d}" for i in range(n)], name=s.CUSTOMER_ID),
    )
    frame.iloc[0, 0] = -0.0
    scorer = behaviour_rfm_scorer().fit(frame)
    expected = pandas_scores(frame, scorer)
    got = scores_on_spark(spark, frame, scorer)
    assert got[s.R_SCORE].dtype == np.int64
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert set(got[s.SEGMENT]) <= set(SEGMENTS)
    # The same rows against another population's cut points (a scorer fitted elsewhere).
    other = behaviour_rfm_scorer().fit(frame.iloc[: n // 7] * 1.5)
    pd.testing.assert_frame_equal(
        scores_on_spark(spark, frame, other), pandas_scores(frame, other), check_dtype=False
    )
    cells = got[[s.R_SCORE, s.F_SCORE, s.M_SCORE]].drop_duplicates()
    assert len(cells) > 60  # most of the 125 cells are exercised
