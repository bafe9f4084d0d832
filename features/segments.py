"""RFM scores (quintiles 1..5) and the named customer segments built on them.

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

N_SCORES = 5  # quintiles
TIES = ("min", "first")


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


def rfm_scores(
    summary: pd.DataFrame,
    *,
    ties: str = "min",
    frequency_col: str = s.FREQUENCY,
    recency_col: str = s.RECENCY,
    t_col: str | None = s.T,
    monetary_col: str = s.MONETARY_VALUE,
    cuts: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Score recency, frequency and monetary value 1..5 by quintile.

    Recency is scored on time since the last purchase, so the most recent
    customers get ``r_score`` 5. From an :func:`features.rfm.rfm_summary`
    it is ``T - recency`` (observation period minus last purchase period,
    in the summary's units: days since the last purchase, counted from the
    day before ``as_of``); a features frame that already holds time since
    the last purchase passes that column as ``recency_col`` with
    ``t_col=None``. Higher frequency and monetary value score higher. With
    an rfm_summary, one-time buyers have ``monetary_value`` 0 (repeat
    purchases only), so they get ``m_score`` 1; pass another column as
    ``monetary_col`` (e.g. total spend) to score spend differently.

    Ties are deterministic. ``ties="min"`` (default): a customer's score is
    ``1 + floor(5 * b / n)`` where ``b`` is the number of customers with a
    strictly worse value, so equal values always share a score, the worst
    value always scores 1, and a large tie group can skip scores. On CDNOW
    the 60% of customers with frequency 0 at 1997-10-01 all get ``f_score``
    1, and frequency 1 scores 3. ``ties="first"``: exact quintiles of
    ``rank(method="first")`` (equal values ordered by their row), so each
    score holds n/5 customers but equal values may score differently.

    Parameters
    ----------
    summary
        Shape (n_customers, k) with the named columns, no missing values.
    ties
        ``"min"`` or ``"first"``, see above.
    frequency_col, recency_col, t_col, monetary_col
        Column names; ``t_col=None`` takes ``recency_col`` as time since
        the last purchase.
    cuts
        Population cut points ``{"r": ..., "f": ..., "m": ...}`` (each from
        :func:`cut_points`, with recency negated) when ``summary`` holds only
        part of the population (a shard); ``ties="min"`` only. None: the
        population is ``summary`` itself.

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, 4), same index: ``r_score``, ``f_score``,
        ``m_score`` (int64 in 1..5) and ``rfm_score`` (string such as
        ``"545"``).
    """
    if ties not in TIES:
        raise KizunaInputError(f"ties must be one of {TIES}", column="ties", values=[ties])
    if not isinstance(summary, pd.DataFrame):
        raise KizunaInputError(f"summary must be a pandas DataFrame, got {type(summary).__name__}")
    names = [c for c in (frequency_col, recency_col, t_col, monetary_col) if c is not None]
    missing = [c for c in names if c not in summary.columns]
    if missing:
        raise KizunaInputError(
            f"summary lacks column(s) {missing}; it has {list(map(str, summary.columns))}",
            column=missing[0],
        )
    col = {c: _values(summary[c], c) for c in names}
    since_last = col[recency_col] if t_col is None else col[t_col] - col[recency_col]
    if cuts is not None and ties != "min":
        raise KizunaInputError("population cut points apply to ties='min' only", column="ties")
    values = {"r": -since_last, "f": col[frequency_col], "m": col[monetary_col]}
    if cuts is None:
        r, f, m = (_scores(values[key], ties) for key in "rfm")
    else:
        r, f, m = (scores_from_cuts(values[key], cuts[key]) for key in "rfm")
    text = pd.array((100 * r + 10 * f + m).astype(str), dtype="string")  # digits r, f, m
    return pd.DataFrame(
        {s.R_SCORE: r, s.F_SCORE: f, s.M_SCORE: m, s.RFM_SCORE: text}, index=summary.index
    )


def fm_scores(f_score: np.ndarray, m_score: np.ndarray) -> np.ndarray:
    """Frequency-monetary score: mean of ``f_score`` and ``m_score``, halves rounded up.

    Shapes (n,) -> (n,), ints in 1..5.
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


def cut_ranks(n: int) -> np.ndarray:
    """0-based ranks of the order statistics that bound the quintile scores.

    With ``ties="min"`` a value scores ``1 + floor(5 b / n)``, ``b`` the count
    of strictly smaller values, so it scores at least ``s`` exactly when it
    exceeds the value of rank ``ceil((s - 1) n / 5) - 1``. Shape (4,) for
    ``n >= 1`` (scores 2..5), (0,) for ``n == 0``.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    need = -((-np.arange(1, N_SCORES, dtype=np.int64) * n) // N_SCORES)  # ceil((s-1) n / 5)
    return need - 1


def cut_points(values: np.ndarray) -> np.ndarray:
    """The population's cut points for :func:`scores_from_cuts`. Shape (n,) -> (4,)."""
    values = np.asarray(values, dtype=np.float64)
    return np.sort(values)[cut_ranks(len(values))]


def scores_from_cuts(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Scores 1..5: one plus the number of cut points strictly below each value.

    Shapes (n,), (4,) -> (n,) int64. With the cut points of the whole
    population this equals the ``ties="min"`` quintile score in it, for
    any subset of its values (a shard).
    """
    return 1 + np.searchsorted(np.asarray(cuts), np.asarray(values), side="left").astype(np.int64)


def _scores(values: np.ndarray, ties: str) -> np.ndarray:
    """Scores 1..5, higher for higher values. Shape (n,) -> (n,) int64."""
    n = len(values)
    if ties == "min":
        return scores_from_cuts(values, cut_points(values))
    below = np.empty(n, dtype=np.int64)
    below[np.argsort(values, kind="stable")] = np.arange(n)
    return 1 + (N_SCORES * below.astype(np.int64)) // max(n, 1)


def _values(values: pd.Series, column: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise KizunaInputError(
            f"must be numeric, got {values.dtype}", column=column, values=values.head(3)
        )
    out = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(out)
    if bad.any():
        raise KizunaInputError(
            "has missing or infinite values (index labels shown)",
            column=column,
            values=values.index[bad],
        )
    return out


def _score_values(values: pd.Series, column: str) -> np.ndarray:
    out = _values(values, column)
    bad = (out != np.round(out)) | (out < 1) | (out > N_SCORES)
    if bad.any():
        raise KizunaInputError(
            f"scores must be whole numbers in 1..{N_SCORES}", column=column, values=values[bad]
        )
    return out.astype(np.int64)
