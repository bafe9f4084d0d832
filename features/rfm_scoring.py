"""RFM scores: recency, frequency and monetary value scored 1..5 by quintile.

:func:`rfm_scores` scores a population; :class:`RFMScorer` keeps its cut
points so that rows scored later (a customer with new purchases) get the
scores they would have in that population. The segments built on the
scores are in :mod:`features.segments`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError

N_SCORES = 5  # quintiles
TIES = ("min", "first")


def rfm_scores(
    summary: pd.DataFrame,
    *,
    ties: str = "min",
    frequency_col: str = s.REPEAT_PERIODS,
    recency_col: str = s.RECENCY,
    t_col: str | None = s.T,
    monetary_col: str = s.MONETARY_VALUE,
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

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, 4), same index: ``r_score``, ``f_score``,
        ``m_score`` (int64 in 1..5) and ``rfm_score`` (string such as
        ``"545"``).
    """
    if ties not in TIES:
        raise KizunaInputError(f"ties must be one of {TIES}", column="ties", values=[ties])
    cols = (frequency_col, recency_col, t_col, monetary_col)
    r, f, m = _rfm_inputs(summary, *cols)
    if ties == "min":
        r, f, m = (_score(quintile_cuts(v), v) for v in (r, f, m))
    else:
        r, f, m = (_first_scores(v) for v in (r, f, m))
    return _score_frame(r, f, m, summary.index)


class RFMScorer(BaseEstimator):
    """:func:`rfm_scores` (ties ``"min"``) learned once, for scoring new rows later.

    ``fit(population)`` keeps the quintile cut points of recency, frequency
    and monetary value; ``score(rows)`` scores any rows against them, so a
    customer whose features changed is scored against the population the
    cut points came from. ``fit(X).score(X)`` equals ``rfm_scores(X)``.

    Parameters
    ----------
    frequency_col, recency_col, t_col, monetary_col
        As in :func:`rfm_scores`.

    Attributes
    ----------
    cuts_ : dict of str to numpy.ndarray
        Shape (4,) per score column (``r_score`` on minus time since the last
        purchase): a value scores ``1 +`` the number of cut points it exceeds.
    n_customers_ : int
        Population size at fit.
    """

    def __init__(
        self,
        *,
        frequency_col: str = s.REPEAT_PERIODS,
        recency_col: str = s.RECENCY,
        t_col: str | None = s.T,
        monetary_col: str = s.MONETARY_VALUE,
    ) -> None:
        self.frequency_col = frequency_col
        self.recency_col = recency_col
        self.t_col = t_col
        self.monetary_col = monetary_col

    def _inputs(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cols = (self.frequency_col, self.recency_col, self.t_col, self.monetary_col)
        return _rfm_inputs(frame, *cols)

    def fit(self, population: pd.DataFrame, y: object = None) -> RFMScorer:
        """Learn the cut points from ``population`` (n_customers, k).

        Parameters
        ----------
        population
            One row per customer, shape (n_customers, k), with the ``frequency_col``,
            ``recency_col``, ``t_col`` (unless None) and ``monetary_col`` columns.
        y
            Ignored (scikit-learn's signature).

        Returns
        -------
        RFMScorer
            ``self``.
        """
        r, f, m = self._inputs(population)
        if len(r) == 0:
            raise KizunaInputError("cannot learn quintiles from an empty population")
        self.cuts_ = {
            s.R_SCORE: quintile_cuts(r),
            s.F_SCORE: quintile_cuts(f),
            s.M_SCORE: quintile_cuts(m),
        }
        self.n_customers_ = len(r)
        return self

    def score(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Scores of ``rows`` (n, k): ``r_score``, ``f_score``, ``m_score``, ``rfm_score``.

        Parameters
        ----------
        rows
            Customers to score, shape (n, k), with the same columns as at fit.

        Returns
        -------
        pandas.DataFrame
            Shape (n, 4), indexed like ``rows``: the three scores 1..5 and ``rfm_score``
            (their digits as text).
        """
        check_is_fitted(self, "cuts_")
        r, f, m = self._inputs(rows)
        cuts = self.cuts_
        return _score_frame(
            _score(cuts[s.R_SCORE], r),
            _score(cuts[s.F_SCORE], f),
            _score(cuts[s.M_SCORE], m),
            rows.index,
        )


def quintile_cuts(values: np.ndarray) -> np.ndarray:
    """The four cut points of ties-"min" quintile scores of ``values`` (n,), shape (4,).

    A value ``v`` scores ``1 + floor(5 * b / n)`` with ``b`` the population
    values strictly below it; ``b >= ceil(j n / 5)`` exactly when ``v``
    exceeds the sorted value at ``ceil(j n / 5) - 1``, j = 1..4.

    Parameters
    ----------
    values
        The population's values, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (4,), float64; +inf for an empty population.
    """
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = len(ordered)
    if n == 0:
        return np.full(N_SCORES - 1, np.inf)
    return ordered[quintile_ranks(n)]


def quintile_ranks(n: int) -> np.ndarray:
    """0-based ranks of the cut points in a sorted population of ``n >= 1``, shape (4,).

    ``ceil(j n / 5) - 1`` for j = 1..4; an engine that sorts a population
    elsewhere (Spark) reads its cut points at these ranks.

    Parameters
    ----------
    n
        Size of the population, >= 1.

    Returns
    -------
    numpy.ndarray
        Shape (4,), int64.
    """
    return -(-np.arange(1, N_SCORES) * n // N_SCORES) - 1


def _score(cuts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Scores 1..5: one more than the number of ``cuts`` (4,) each value exceeds."""
    return 1 + np.searchsorted(cuts, values, side="left").astype(np.int64)


def _first_scores(values: np.ndarray) -> np.ndarray:
    """Exact quintiles of ``rank(method="first")``, shape (n,) -> (n,) int64."""
    n = len(values)
    below = np.empty(n, dtype=np.int64)
    below[np.argsort(values, kind="stable")] = np.arange(n)
    return 1 + (N_SCORES * below) // max(n, 1)


def _rfm_inputs(
    summary: pd.DataFrame,
    frequency_col: str,
    recency_col: str,
    t_col: str | None,
    monetary_col: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minus time since the last purchase, frequency and monetary value, shapes (n,)."""
    if not isinstance(summary, pd.DataFrame):
        raise KizunaInputError(f"summary must be a pandas DataFrame, got {type(summary).__name__}")
    required = {"frequency_col": frequency_col, "recency_col": recency_col,
                "monetary_col": monetary_col}  # fmt: skip
    for setting, value in required.items():
        if value is None:
            raise KizunaInputError("names no column (only t_col may be None)", column=setting)
    names = [c for c in (frequency_col, recency_col, t_col, monetary_col) if c is not None]
    missing = [c for c in names if c not in summary.columns]
    if missing:
        raise KizunaInputError(
            f"summary lacks column(s) {missing}; it has {list(map(str, summary.columns))}",
            column=missing[0],
        )
    col = {c: finite_values(summary[c], c) for c in names}
    since_last = col[recency_col] if t_col is None else col[t_col] - col[recency_col]
    return -since_last, col[frequency_col], col[monetary_col]


def _score_frame(r: np.ndarray, f: np.ndarray, m: np.ndarray, index: pd.Index) -> pd.DataFrame:
    text = pd.array((100 * r + 10 * f + m).astype(str), dtype="string")  # digits r, f, m
    return pd.DataFrame({s.R_SCORE: r, s.F_SCORE: f, s.M_SCORE: m, s.RFM_SCORE: text}, index=index)


def finite_values(values: pd.Series, column: str) -> np.ndarray:
    """``values`` (n,) as finite float64; an input error names the column otherwise.

    Parameters
    ----------
    values
        Numbers, shape (n,).
    column
        The column named in the error.

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64.
    """
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
