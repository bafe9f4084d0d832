"""The named customer segments built on RFM scores (see :mod:`features.rfm_scoring`).

The segment table is data (:data:`SEGMENT_RULES`), defined once so that
documentation can print it and tests can check that every score combination
lands in exactly one segment.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.rfm_scoring import N_SCORES, finite_values


class SegmentRule(NamedTuple):
    """Customers with ``r_score`` in ``r`` and fm score in ``fm`` (inclusive)."""

    segment: str
    r: tuple[int, int]
    fm: tuple[int, int]
    meaning: str


# Rows of an R (recency) x FM (frequency-monetary) grid. The 5 x 5 cells are
# covered exactly once (tests/features/test_segments.py checks it):
#
#            fm=1            fm=2            fm=3            fm=4        fm=5
#   r=5      New             Potential l.    Potential l.    Champions   Champions
#   r=4      Promising       Potential l.    Potential l.    Loyal       Loyal
#   r=3      About to sleep  About to sleep  Need attention  Loyal       Loyal
#   r=2      Hibernating     Hibernating     At risk         At risk     Can't lose them
#   r=1      Lost            Lost            At risk         At risk     Can't lose them
SEGMENT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", (5, 5), (4, 5), "bought recently, buy often and spend the most"),
    SegmentRule("Loyal", (3, 4), (4, 5), "buy often and spend well; still fairly recent"),
    SegmentRule("Potential loyalists", (4, 5), (2, 3), "recent customers with some repeat buying"),
    SegmentRule("New", (5, 5), (1, 1), "bought very recently, for the first time or little"),
    SegmentRule("Promising", (4, 4), (1, 1), "recent, but bought little so far"),
    SegmentRule("Need attention", (3, 3), (3, 3), "middling on every score"),
    SegmentRule("About to sleep", (3, 3), (1, 2), "middling recency, low frequency and spend"),
    SegmentRule("At risk", (1, 2), (3, 4), "bought often and well, but long ago"),
    SegmentRule("Can't lose them", (1, 2), (5, 5), "were among the best, long ago"),
    SegmentRule("Hibernating", (2, 2), (1, 2), "long ago, rarely and little"),
    SegmentRule("Lost", (1, 1), (1, 2), "the least recent, rarely and little"),
)
SEGMENTS: tuple[str, ...] = tuple(rule.segment for rule in SEGMENT_RULES)


def fm_scores(f_score: np.ndarray, m_score: np.ndarray) -> np.ndarray:
    """Frequency-monetary score: mean of ``f_score`` and ``m_score``, halves rounded up.

    Shapes (n,) -> (n,), ints in 1..5.

    Parameters
    ----------
    f_score, m_score
        Frequency and monetary quintile scores, ints in 1..5, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n,), ints in 1..5.
    """
    return (np.asarray(f_score) + np.asarray(m_score) + 1) // 2


def rfm_segments(
    scores: pd.DataFrame,
    *,
    r_col: str = s.R_SCORE,
    f_col: str = s.F_SCORE,
    m_col: str = s.M_SCORE,
) -> pd.Series:
    """Name each customer's segment from their scores by :data:`SEGMENT_RULES`.

    The rules read ``r_score`` and the fm score (:func:`fm_scores`).

    Parameters
    ----------
    scores
        Shape (n_customers, k), integer scores in 1..5, e.g. from
        :func:`rfm_scores`.
    r_col, f_col, m_col
        Column names.

    Returns
    -------
    pandas.Series
        Shape (n_customers,), categorical with categories :data:`SEGMENTS`
        in table order, named ``segment``, same index as ``scores``.
    """
    if not isinstance(scores, pd.DataFrame):
        raise KizunaInputError(f"scores must be a pandas DataFrame, got {type(scores).__name__}")
    missing = [c for c in (r_col, f_col, m_col) if c not in scores.columns]
    if missing:
        raise KizunaInputError(
            f"scores lack column(s) {missing}; they have {list(map(str, scores.columns))}",
            column=missing[0],
        )
    r, f, m = (_score_values(scores[c], c) for c in (r_col, f_col, m_col))
    grid = segment_grid_codes()
    codes = grid[r - 1, fm_scores(f, m) - 1]
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=list(SEGMENTS)),
        index=scores.index,
        name=s.SEGMENT,
    )


def segment_grid_codes() -> np.ndarray:
    """Segment position in :data:`SEGMENTS` for each (r, fm) cell, shape (5, 5).

    Row ``r - 1``, column ``fm - 1``; -1 marks a cell no rule covers (there
    is none, which the tests check).

    Returns
    -------
    numpy.ndarray
        Shape (5, 5), int8: rows r_score - 1, columns fm_score - 1.
    """
    grid = np.full((N_SCORES, N_SCORES), -1, dtype=np.int8)
    for code, rule in enumerate(SEGMENT_RULES):
        grid[rule.r[0] - 1 : rule.r[1], rule.fm[0] - 1 : rule.fm[1]] = code
    return grid


def segment_grid() -> pd.DataFrame:
    """The rule table as an R x FM grid of segment names, for display.

    Returns
    -------
    pandas.DataFrame
        Shape (5, 5): index ``r_score`` 5..1, columns fm score 1..5.
    """
    names = np.asarray(SEGMENTS, dtype=object)[segment_grid_codes()]
    grid = pd.DataFrame(
        names,
        index=pd.Index(range(1, N_SCORES + 1), name=s.R_SCORE),
        columns=pd.Index(range(1, N_SCORES + 1), name="fm_score"),
    )
    return grid.iloc[::-1]


def _score_values(values: pd.Series, column: str) -> np.ndarray:
    out = finite_values(values, column)
    bad = (out != np.round(out)) | (out < 1) | (out > N_SCORES)
    if bad.any():
        raise KizunaInputError(
            f"scores must be whole numbers in 1..{N_SCORES}", column=column, values=values[bad]
        )
    return out.astype(np.int64)
