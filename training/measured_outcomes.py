"""A sent campaign's outcomes, measured from the order log: who bought in the window after
the decision, and for how much, treated and control alike.

``kizuna score offers`` writes the decisions (each customer's offer, group and
``decided_at``, the would-be offer kept for the control group); after the
window has passed, this turns them and the purchases since into the outcomes
table that ``kizuna evaluate-campaign`` reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.control_groups import CONTROL, TREATED
from kizuna.features.errors import KizunaInputError
from kizuna.models.offers import NO_OFFER

DECIDED_AT = "decided_at"


def outcomes_of_decisions(
    decisions: pd.DataFrame, purchases: pd.DataFrame, *, days: int, data_end: pd.Timestamp
) -> pd.DataFrame:
    """One row per customer who was decided an offer: treated, outcome and revenue in the window.

    Parameters
    ----------
    decisions
        As ``kizuna score offers`` writes them: ``customer_id``, ``offer_id``,
        ``group`` (treated / control), ``decided_at``, and ``rank`` (only rank 1,
        the offer sent, counts). ``no_offer`` rows are left out: nothing was
        sent or held back.
    purchases
        Validated order lines: ``customer_id``, ``timestamp``, ``revenue``,
        ``is_return``.
    days
        The window: ``[decided_at, decided_at + days)``.
    data_end
        The last instant the order log covers; every window must end by it.

    Returns
    -------
    pandas.DataFrame
        Shape (n_decided, 6): ``customer_id``, ``offer_id``, ``campaign_id``,
        ``treated`` (0/1), ``outcome`` (1: bought in the window) and ``revenue``
        (net, returns subtracted).
    """
    if days < 1:
        raise KizunaInputError("the window must be at least one day", column="days", values=[days])
    for col in (s.CUSTOMER_ID, s.OFFER_ID, s.GROUP, DECIDED_AT):
        if col not in decisions.columns:
            raise KizunaInputError(
                "the decisions lack a column (are they what `kizuna score offers` wrote?)",
                column=col,
            )
    sent = decisions if s.RANK not in decisions.columns else decisions[decisions[s.RANK] == 1]
    sent = sent[sent[s.OFFER_ID].astype("str") != NO_OFFER].copy()
    sent[s.CUSTOMER_ID] = sent[s.CUSTOMER_ID].astype("str")
    dup = sent[s.CUSTOMER_ID].duplicated()
    if dup.any():
        raise KizunaInputError(
            "a customer has two offers: measure one decisions file at a time",
            column=s.CUSTOMER_ID,
            values=sent.loc[dup, s.CUSTOMER_ID].unique(),
        )
    groups = sent[s.GROUP].astype("str")
    bad = ~groups.isin([TREATED, CONTROL])
    if bad.any():
        raise KizunaInputError(
            f"expected {TREATED} or {CONTROL}", column=s.GROUP, values=groups[bad].unique()
        )
    start = pd.to_datetime(sent[DECIDED_AT])
    end = start + pd.Timedelta(days=days)
    if len(sent) and end.max() > data_end:
        raise KizunaInputError(
            f"the order log ends at {data_end}; the {days}-day window after the last "
            f"decision ({start.max()}) needs data up to {end.max()}: measure later, or "
            "shorten --days"
        )
    lines = purchases[[s.CUSTOMER_ID, s.TIMESTAMP, s.REVENUE, s.IS_RETURN]].copy()
    lines[s.CUSTOMER_ID] = lines[s.CUSTOMER_ID].astype("str")
    windows = pd.DataFrame({s.CUSTOMER_ID: sent[s.CUSTOMER_ID], "start": start, "end": end})
    inside = lines.merge(windows, on=s.CUSTOMER_ID, how="inner")
    inside = inside[
        (inside[s.TIMESTAMP] >= inside["start"]) & (inside[s.TIMESTAMP] < inside["end"])
    ]
    bought = inside[~inside[s.IS_RETURN].astype(bool)].groupby(s.CUSTOMER_ID).size()
    revenue = inside.groupby(s.CUSTOMER_ID)[s.REVENUE].sum()
    ids = sent[s.CUSTOMER_ID]
    campaign = sent[s.CAMPAIGN_ID] if s.CAMPAIGN_ID in sent.columns else None
    return pd.DataFrame({
        s.CUSTOMER_ID: ids.to_numpy(),
        s.OFFER_ID: sent[s.OFFER_ID].astype("str").to_numpy(),
        s.CAMPAIGN_ID: pd.array(campaign if campaign is not None else [None] * len(ids), "str"),
        s.TREATED: (groups == TREATED).astype(int).to_numpy(),
        s.OUTCOME: (bought.reindex(ids).fillna(0).to_numpy() > 0).astype(int),
        s.REVENUE: revenue.reindex(ids).fillna(0.0).to_numpy(dtype=np.float64),
    })  # fmt: skip
