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

The checks of the outcomes table are in :mod:`training.campaign_outcomes`, the
intervals in :mod:`training.campaign_stats`, and per-offer uplift models
(:func:`learn_uplift`, re-exported here) in :mod:`training.uplift_learning`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.offers import OfferCatalogue
from kizuna.training.campaign_outcomes import checked_outcomes, costs_per_row, treated_flags
from kizuna.training.campaign_stats import profit_uplift, retention_uplift, revenue_uplift
from kizuna.training.uplift_learning import learn_uplift

__all__ = ["ALL", "evaluate_campaign", "learn_uplift", "treated_flags"]

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
    offer_col, treated_col, outcome_col, revenue_col
        Column names (the canonical ones by default).

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
        (+ ``_low``, ``_high``) and ``profit_per_treated``. Without ``catalogue`` or
        ``costs`` the costs are NaN (unknown), and so is the profit unless ``margin``
        is given (then it is the margin on the revenue, costs left out).
    """
    if not 0 < confidence < 1:
        raise KizunaInputError(
            "confidence must be in (0, 1)", column="confidence", values=[confidence]
        )
    frame = checked_outcomes(outcomes, offer_col, treated_col, outcome_col, revenue_col)
    offers = frame[offer_col].to_numpy(dtype=object)
    fixed, discount = costs_per_row(offers, catalogue, costs)
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
            **retention_uplift(y[t], y[c], confidence),
            **revenue_uplift(revenue[t], revenue[c], confidence),
            "cost_fixed": float(fixed[t].sum()),
            "cost_discount": float((discount * revenue)[t].sum()),
            **profit_uplift(profit[t], profit[c], confidence),
        })  # fmt: skip
    out = pd.DataFrame(rows)
    if catalogue is None and costs is None:  # nothing says what the offers cost
        out[["cost_fixed", "cost_discount"]] = np.nan
        if margin is None:
            out[list(PROFIT_COLUMNS)] = np.nan
    return out


#: Unknown (NaN) without a catalogue, costs or a margin: revenue is not profit.
PROFIT_COLUMNS = (
    "incremental_profit",
    "incremental_profit_low",
    "incremental_profit_high",
    "profit_per_treated",
)
