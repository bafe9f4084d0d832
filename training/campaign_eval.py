"""Did the campaign pay? Uplift in retention and revenue, with intervals, and profit after costs.

Input: an outcomes frame, one row per customer in the campaign: ``customer_id``,
``offer_id`` (the offer made, or that would have been made to a control
customer), ``treated`` (bool/0/1, or the text "treated"/"control"), ``outcome``
(0/1: retained or purchased) and ``revenue`` (gross, before any discount).

Statistics (per offer, and pooled over all offers in a row ``offer_id = "all"``):

- Retention uplift ``p_T - p_C``: normal approximation for a difference of two
  independent proportions, ``se = sqrt(p_T (1 - p_T) / n_T + p_C (1 - p_C) / n_C)``
  (unpooled, as for an interval; the p-value uses the same se). Fine from a few
  dozen customers per group with some of each outcome; below that the interval
  is too narrow.
- Revenue uplift ``mean_T - mean_C`` per customer: Welch's t interval
  (unequal variances, Welch-Satterthwaite degrees of freedom). Revenue is
  skewed and mostly zero; the t interval is still right for the *mean* at
  campaign sizes (hundreds of customers and up) by the central limit theorem,
  and unlike a bootstrap it is exact to reproduce.
- Incremental profit: each treated customer brings ``(margin - discount) *
  revenue - fixed``, each control ``margin * revenue``; profit per treated
  customer is the difference of the two means (Welch interval as above), and
  the campaign total is that times ``n_T``. Costs come from the offer catalogue
  (fixed cost per contact; the discount share of each treated purchase).
  Pooling offers assumes control customers were held out of each offer at
  the same rate (true with hash assignment).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from kizuna.features import schema as s
from kizuna.features.control_groups import hash_units
from kizuna.features.errors import KizunaInputError
from kizuna.models.offers import OfferCatalogue

ALL = "all"


def evaluate_campaign(
    outcomes: pd.DataFrame,
    *,
    catalogue: OfferCatalogue | None = None,
    costs: Mapping[str, tuple[float, float]] | None = None,
    margin: float | None = None,
    confidence: float = 0.95,
    offer_col: str = s.OFFER_ID,
    treated_col: str = s.TREATED,
    outcome_col: str = s.OUTCOME,
    revenue_col: str = s.REVENUE,
) -> pd.DataFrame:
    """Uplift in retention and revenue and incremental profit, per offer and pooled.

    Parameters
    ----------
    outcomes
        Shape (n, >= 4), see the module docstring.
    catalogue
        Costs per offer and the margin. Offers in ``outcomes`` that the
        catalogue lacks fail.
    costs
        Instead of a catalogue: ``offer_id -> (fixed, discount_share)``;
        offers not listed cost nothing.
    margin
        Share of revenue kept as profit; default the catalogue's, else 1.
    confidence
        Level of every interval.

    Returns
    -------
    pandas.DataFrame
        One row per offer (sorted) and a last row ``all``. Columns: ``offer_id``,
        ``n_treated``, ``n_control``, ``retention_treated``,
        ``retention_control``, ``retention_uplift`` (+ ``_low``, ``_high``,
        ``_p_value``), ``revenue_treated``, ``revenue_control`` (mean per
        customer), ``revenue_uplift`` (+ ``_low``, ``_high``),
        ``incremental_revenue`` (+ ``_low``, ``_high``; uplift x n_treated),
        ``cost_fixed``, ``cost_discount`` (totals), ``incremental_profit``
        (+ ``_low``, ``_high``) and ``profit_per_treated``.
    """
    if not 0 < confidence < 1:
        raise KizunaInputError(
            "confidence must be in (0, 1)", column="confidence", values=[confidence]
        )
    frame = _checked(outcomes, offer_col, treated_col, outcome_col, revenue_col)
    offers = frame[offer_col].to_numpy(dtype=object)
    fixed, discount = _costs(offers, catalogue, costs)
    m = float(margin if margin is not None else (catalogue.margin if catalogue else 1.0))
    if not 0 < m <= 1:
        raise KizunaInputError("margin must be in (0, 1]", column="margin", values=[m])
    treated = frame[treated_col].to_numpy(dtype=bool)
    y = frame[outcome_col].to_numpy(dtype=float)
    revenue = frame[revenue_col].to_numpy(dtype=float)
    profit = np.where(treated, (m - discount) * revenue - fixed, m * revenue)
    rows = []
    groups = [(str(o), offers == o) for o in sorted(pd.unique(offers))]
    groups.append((ALL, np.ones(len(frame), bool)))
    for name, rows_of in groups:
        t, c = rows_of & treated, rows_of & ~treated
        rows.append({
            s.OFFER_ID: name,
            **_retention(y[t], y[c], confidence),
            **_revenue(revenue[t], revenue[c], confidence),
            "cost_fixed": float(fixed[t].sum()),
            "cost_discount": float((discount * revenue)[t].sum()),
            **_profit(profit[t], profit[c], confidence),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _checked(
    outcomes: pd.DataFrame, offer_col: str, treated_col: str, outcome_col: str, revenue_col: str
) -> pd.DataFrame:
    if not isinstance(outcomes, pd.DataFrame):
        raise KizunaInputError("outcomes must be a table", column=outcome_col)
    for col in (offer_col, treated_col, outcome_col, revenue_col):
        if col not in outcomes.columns:
            raise KizunaInputError(
                f"the outcomes need columns "
                f"{[s.CUSTOMER_ID, offer_col, treated_col, outcome_col, revenue_col]}; "
                f"they have {list(map(str, outcomes.columns))}", column=col,
            )  # fmt: skip
    frame = outcomes.copy()
    frame[offer_col] = frame[offer_col].astype("str")
    if frame[offer_col].isna().any():
        raise KizunaInputError("offer ids must not be missing", column=offer_col)
    frame[treated_col] = treated_flags(frame[treated_col], column=treated_col)
    y = pd.to_numeric(frame[outcome_col], errors="coerce")
    bad = y.isna() | ~y.isin([0, 1])
    if bad.any():
        raise KizunaInputError(
            "outcomes must be 0 or 1", column=outcome_col, values=frame[outcome_col][bad].unique()
        )
    frame[outcome_col] = y
    r = pd.to_numeric(frame[revenue_col], errors="coerce")
    bad = r.isna() | ~np.isfinite(r)
    if bad.any():
        raise KizunaInputError(
            "revenue must be numbers (0 when nothing was bought)",
            column=revenue_col,
            values=frame[revenue_col][bad].unique(),
        )
    frame[revenue_col] = r.astype(float)
    return frame


def treated_flags(values: pd.Series, *, column: str = s.TREATED) -> np.ndarray:
    """Shape (n,) bool from bool, 0/1, or the text treated/control (any case)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=bool)
    text = values.astype("str").str.strip().str.lower()
    mapped = text.map(
        {
            "treated": True,
            "treatment": True,
            "control": False,
            "1": True,
            "0": False,
            "true": True,
            "false": False,
            "1.0": True,
            "0.0": False,
        }
    )
    bad = mapped.isna()
    if bad.any():
        raise KizunaInputError(
            "expected treated/control, true/false or 1/0",
            column=column,
            values=values[bad.to_numpy()].unique(),
        )
    return mapped.to_numpy(dtype=bool)


def _costs(
    offers: np.ndarray,
    catalogue: OfferCatalogue | None,
    costs: Mapping[str, tuple[float, float]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    table: dict[str, tuple[float, float]] = {}
    if catalogue is not None:
        table = {o.offer_id: (o.cost.fixed, o.cost.discount_share) for o in catalogue.offers}
        unknown = sorted(set(offers) - set(table))
        if unknown:
            raise KizunaInputError(
                "outcomes name offers the catalogue lacks", column=s.OFFER_ID, values=unknown
            )
    elif costs is not None:
        table = {str(k): (float(v[0]), float(v[1])) for k, v in costs.items()}
    fixed = np.array([table.get(o, (0.0, 0.0))[0] for o in offers], dtype=float)
    discount = np.array([table.get(o, (0.0, 0.0))[1] for o in offers], dtype=float)
    return fixed, discount


def _retention(yt: np.ndarray, yc: np.ndarray, confidence: float) -> dict[str, Any]:
    nt, nc = yt.size, yc.size
    pt = yt.mean() if nt else np.nan
    pc = yc.mean() if nc else np.nan
    diff = pt - pc
    se = np.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc) if nt and nc else np.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    p_value = 2 * stats.norm.sf(abs(diff) / se) if se > 0 else (1.0 if diff == 0 else 0.0)
    return {
        "n_treated": nt, "n_control": nc, "retention_treated": pt, "retention_control": pc,
        "retention_uplift": diff, "retention_uplift_low": diff - z * se,
        "retention_uplift_high": diff + z * se,
        "retention_uplift_p_value": float(p_value) if nt and nc else np.nan,
    }  # fmt: skip


def welch_interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """``mean(a) - mean(b)`` and its Welch t interval; NaN bounds when a group has < 2 rows."""
    na, nb = a.size, b.size
    if na == 0 or nb == 0:
        return np.nan, np.nan, np.nan
    diff = float(a.mean() - b.mean())
    if na < 2 or nb < 2:
        return diff, np.nan, np.nan
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    se = np.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    return diff, diff - half, diff + half


def _revenue(rt: np.ndarray, rc: np.ndarray, confidence: float) -> dict[str, Any]:
    diff, low, high = welch_interval(rt, rc, confidence)
    nt = rt.size
    return {
        "revenue_treated": rt.mean() if nt else np.nan,
        "revenue_control": rc.mean() if rc.size else np.nan,
        "revenue_uplift": diff, "revenue_uplift_low": low, "revenue_uplift_high": high,
        "incremental_revenue": diff * nt, "incremental_revenue_low": low * nt,
        "incremental_revenue_high": high * nt,
    }  # fmt: skip


def _profit(pt: np.ndarray, pc: np.ndarray, confidence: float) -> dict[str, Any]:
    per, low, high = welch_interval(pt, pc, confidence)
    nt = pt.size
    return {
        "incremental_profit": per * nt, "incremental_profit_low": low * nt,
        "incremental_profit_high": high * nt, "profit_per_treated": per,
    }  # fmt: skip


# --- learned uplift ---------------------------------------------------------------------


def learn_uplift(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    learner: str = "x",
    holdout_share: float = 0.3,
    seed: int = 0,
    customer_col: str = s.CUSTOMER_ID,
    offer_col: str = s.OFFER_ID,
    treated_col: str = s.TREATED,
    outcome_col: str = s.OUTCOME,
    holdout: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Learn per-offer uplift models and measure them on a held-out share of customers.

    The holdout is chosen by hash of the customer id (stable across runs);
    metrics come from models fitted on the rest, and the returned models are
    refitted on everything.

    Parameters
    ----------
    features
        Customer features, indexed by customer id (or with ``customer_col``).
    outcomes
        As for :func:`evaluate_campaign`.
    learner
        ``"x"`` (:class:`~models.uplift.XLearner`) or ``"t"`` (:class:`~models.uplift.TLearner`).
    holdout
        If given, filled with ``offer_id -> (outcome, treated, score)`` on the
        held-out customers, for curves and plots.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``offer_id -> fitted model`` and one row of holdout metrics per offer:
        ``qini`` (normalised coefficient), ``auuc``, ``uplift_at_30``
        (treated minus control outcome in the top 30 %) and the row counts.
    """
    from kizuna.models.uplift import TLearner, XLearner, fit_uplift_by_offer
    from kizuna.training.metrics_uplift import auuc, qini_coefficient, uplift_at_k

    kinds = {"x": XLearner, "t": TLearner}
    if learner not in kinds:
        raise KizunaInputError("learner must be 'x' or 't'", column="learner", values=[learner])
    if not 0 < holdout_share < 1:
        raise KizunaInputError(
            "holdout share must be in (0, 1)", column="holdout_share", values=[holdout_share]
        )
    frame = outcomes.copy()
    frame[treated_col] = treated_flags(frame[treated_col], column=treated_col).astype(int)
    base = kinds[learner](random_state=seed)
    held = hash_units(frame[customer_col].astype("str"), f"uplift-holdout-{seed}") < holdout_share
    kw = dict(
        customer_col=customer_col,
        offer_col=offer_col,
        treated_col=treated_col,
        outcome_col=outcome_col,
    )
    trial = fit_uplift_by_offer(features, frame[~held], base, **kw)
    table = features.set_index(customer_col) if customer_col in features.columns else features
    table = table.set_axis(table.index.astype("str"), axis=0)
    rows = []
    for offer_id, model in trial.items():
        test = frame[held & (frame[offer_col].astype("str") == offer_id)]
        score = model.predict_uplift(table.loc[test[customer_col].astype("str")])
        y, t = test[outcome_col].to_numpy(float), test[treated_col].to_numpy()
        if holdout is not None:
            holdout[offer_id] = (y, t, np.asarray(score, dtype=float))
        ok = 0 < t.sum() < t.size
        rows.append({
            s.OFFER_ID: offer_id, "n_train": int((~held & (frame[offer_col] == offer_id)).sum()),
            "n_holdout": int(len(test)),
            "qini": qini_coefficient(y, t, score) if ok else np.nan,
            "auuc": auuc(y, t, score) if ok else np.nan,
            "uplift_at_30": uplift_at_k(y, t, score, 0.3) if ok else np.nan,
        })  # fmt: skip
    models = fit_uplift_by_offer(features, frame, base, **kw)
    return models, pd.DataFrame(rows)
