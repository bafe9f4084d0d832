"""RFMScorer: rfm_scores' quintile cut points learned once, new rows scored against them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.rfm_scoring import RFMScorer, quintile_cuts, rfm_scores
from tests.features.test_segments import _summary

SCORES = [s.R_SCORE, s.F_SCORE, s.M_SCORE, s.RFM_SCORE]


def _population(n: int, seed: int) -> pd.DataFrame:
    """An RFM summary with many ties (most one-time buyers), as real shops have."""
    rng = np.random.default_rng(seed)
    frequency = np.where(rng.random(n) < 0.6, 0, rng.poisson(2, n))
    t = rng.integers(10, 400, n).astype(float)
    recency = np.where(frequency > 0, np.floor(t * rng.random(n)), 0.0)
    monetary = np.where(frequency > 0, np.round(rng.lognormal(3, 1, n), 1), 0.0)
    return _summary(frequency, recency, t, monetary)


@pytest.mark.parametrize(("n", "seed"), [(1, 0), (4, 1), (10, 2), (997, 3), (5000, 4)])
def test_fit_then_score_equals_rfm_scores_on_the_population(n, seed):
    population = _population(n, seed)
    got = RFMScorer().fit(population).score(population)
    pd.testing.assert_frame_equal(got, rfm_scores(population))


def test_a_new_row_scores_as_it_would_among_the_population():
    population = _population(500, 5)
    scorer = RFMScorer().fit(population)
    rng = np.random.default_rng(6)
    for i in rng.integers(0, 500, 20):
        for bump in (0.0, 1.0, 50.0):  # the customer bought again / spent more
            row = population.iloc[[i]].copy()
            row[s.REPEAT_PERIODS] += bump
            row[s.MONETARY_VALUE] += 10 * bump
            got = scorer.score(row)
            # By hand: 1 + floor(5 * b / n), b = population values strictly below, at most 5.
            for col, values, value in (
                (s.F_SCORE, population[s.REPEAT_PERIODS], row[s.REPEAT_PERIODS].iloc[0]),
                (s.M_SCORE, population[s.MONETARY_VALUE], row[s.MONETARY_VALUE].iloc[0]),
            ):
                below = int((values.to_numpy() < value).sum())
                assert got[col].iloc[0] == min(1 + 5 * below // 500, 5)


def test_time_since_last_purchase_columns_and_cut_points_by_hand():
    # Ten customers with days since last purchase 0..9: fewer days score higher.
    frame = pd.DataFrame(
        {"days": np.arange(10.0), "orders": np.arange(1.0, 11.0), "spend": np.arange(10.0)}
    )
    scorer = RFMScorer(
        recency_col="days", t_col=None, frequency_col="orders", monetary_col="spend"
    ).fit(frame)
    np.testing.assert_array_equal(scorer.cuts_[s.F_SCORE], [2.0, 4.0, 6.0, 8.0])
    np.testing.assert_array_equal(quintile_cuts(np.arange(1.0, 11.0)), [2.0, 4.0, 6.0, 8.0])
    new = pd.DataFrame({"days": [0.0, 100.0], "orders": [100.0, 0.0], "spend": [3.0, 2.5]})
    got = scorer.score(new)
    assert list(got[s.R_SCORE]) == [5, 1]
    assert list(got[s.F_SCORE]) == [5, 1]
    assert list(got[s.M_SCORE]) == [2, 2]
    assert list(got[s.RFM_SCORE]) == ["552", "112"]


def test_sklearn_rules_and_input_errors():
    scorer = RFMScorer()
    assert clone(scorer).get_params() == scorer.get_params()
    assert not [k for k in vars(scorer) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        scorer.score(_population(5, 0))
    with pytest.raises(KizunaInputError, match="empty"):
        RFMScorer().fit(_population(5, 0).iloc[:0])
    fitted = RFMScorer().fit(_population(50, 0))
    with pytest.raises(KizunaInputError, match=s.MONETARY_VALUE):
        fitted.score(_population(3, 1).drop(columns=s.MONETARY_VALUE))
    bad = _population(3, 1)
    bad.loc[bad.index[0], s.T] = np.nan
    with pytest.raises(KizunaInputError, match=s.T):
        fitted.score(bad)
