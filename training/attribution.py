"""``kizuna attribution``: which recommendations and offers led to purchases.

Reads the recommendation log (:mod:`serving.attribution`): a purchase line that
came back carrying a ``recommendation_id`` within ``window_days`` of the answer
is a conversion of that answer. Per placement, offer and model version:
impressions (answers shown, control-group answers excluded), conversions
(answers with at least one such purchase), conversion rate and attributed
revenue. Where a campaign held out a control group (``/next_best_offer`` with
``control_share``), the incremental effect is the difference in the share of
customers who bought anything within the window, treated minus control, with a
normal-approximation confidence interval; that needs the purchases themselves
(the event store), since control customers carry no id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from kizuna.features import schema as s
from kizuna.models.offers import NO_OFFER

KEYS = ["placement", "campaign_id", "offer_id", "model_version"]
COLUMNS = [
    *KEYS, "impressions", "conversions", "conversion_rate", "attributed_revenue",
    "treated_customers", "control_customers", "incremental_effect", "incremental_low",
    "incremental_high",
]  # fmt: skip


def attribute(
    shown: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    since: Any,
    window_days: float = 7.0,
    purchases: pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The attribution table (module docstring), one row per placement × offer × model version.

    Parameters
    ----------
    shown
        Recommendation log rows, shape (n_answers, >= 6): ``recommendation_id``,
        ``shown_at``, ``placement``, ``offer_id``, ``grp``, ``model_version``, ``customer_id``.
    conversions
        Purchase lines carrying an id: ``recommendation_id``, ``timestamp``, ``revenue``.
    since
        Only answers shown at or after it.
    purchases
        Every purchase line (``customer_id``, ``timestamp``), for the control-group comparison.
    window_days
        Days after an answer in which a purchase counts.
    confidence
        The intervals' confidence.

    Returns
    -------
    pandas.DataFrame
        One row per placement x offer x model version.
    """
    if shown.empty:
        return pd.DataFrame(columns=COLUMNS)
    window = pd.Timedelta(days=window_days)
    shown = shown.assign(shown_at=pd.to_datetime(shown["shown_at"]))
    shown = shown[shown["shown_at"] >= pd.Timestamp(since)].copy()
    shown["offer_id"] = shown["offer_id"].fillna("-")
    shown["grp"] = shown["grp"].fillna("treated")
    shown["campaign_id"] = shown["campaign_id"].fillna("-") if "campaign_id" in shown else "-"
    conv = (
        conversions.assign(timestamp=pd.to_datetime(conversions["timestamp"]))
        if len(conversions)
        else pd.DataFrame(columns=["recommendation_id", "timestamp", "revenue"])
    )
    joined = conv.merge(shown[["recommendation_id", "shown_at"]], on="recommendation_id")
    in_window = joined[
        (joined["timestamp"] >= joined["shown_at"])
        & (joined["timestamp"] < joined["shown_at"] + window)
    ]
    per_answer = in_window.groupby("recommendation_id")["revenue"].sum()
    shown["converted"] = shown["recommendation_id"].isin(per_answer.index)
    shown["revenue"] = shown["recommendation_id"].map(per_answer).fillna(0.0)
    if purchases is not None:
        shown["bought"] = _bought_within(shown, purchases, window)
    # A campaign's control group (shown nothing) is the counterfactual of all its
    # treated customers: the effect is per campaign, shown on each of its rows.
    effects = {}
    if purchases is not None:
        for campaign, group in shown[shown["campaign_id"] != "-"].groupby("campaign_id"):
            effects[campaign] = _incremental(group, confidence)
    rows = []
    # A `no_offer` answer showed nothing: no impression (it still counts in the effect above).
    treated_rows = shown[(shown["grp"] != "control") & (shown["offer_id"] != NO_OFFER)]
    for key, group in treated_rows.groupby(KEYS, sort=True, dropna=False):
        row = dict(zip(KEYS, key, strict=True))
        row.update(
            impressions=len(group),
            conversions=int(group["converted"].sum()),
            conversion_rate=float(group["converted"].mean()),
            attributed_revenue=float(group["revenue"].sum()),
            **effects.get(row["campaign_id"], {}),
        )
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _bought_within(
    shown: pd.DataFrame, purchases: pd.DataFrame, window: pd.Timedelta
) -> np.ndarray:
    """Per answer: did its customer buy anything in [shown_at, shown_at + window)?"""
    p = purchases[[s.CUSTOMER_ID, s.TIMESTAMP]].assign(
        **{
            s.CUSTOMER_ID: purchases[s.CUSTOMER_ID].astype(str),
            s.TIMESTAMP: pd.to_datetime(purchases[s.TIMESTAMP]),
        }
    )
    left = shown[["recommendation_id", "customer_id", "shown_at"]].assign(
        customer_id=shown["customer_id"].astype(str)
    )
    pairs = left.merge(p, on=s.CUSTOMER_ID)
    hit = pairs[
        (pairs[s.TIMESTAMP] >= pairs["shown_at"])
        & (pairs[s.TIMESTAMP] < pairs["shown_at"] + window)
    ]
    return shown["recommendation_id"].isin(set(hit["recommendation_id"])).to_numpy()


def _incremental(group: pd.DataFrame, confidence: float) -> dict[str, Any]:
    """Treated minus control share of customers who bought, with a Wald interval."""
    per_customer = group.groupby(["customer_id", "grp"])["bought"].max().reset_index()
    t = per_customer.loc[per_customer["grp"] != "control", "bought"].to_numpy(dtype=float)
    c = per_customer.loc[per_customer["grp"] == "control", "bought"].to_numpy(dtype=float)
    out: dict[str, Any] = {"treated_customers": len(t), "control_customers": len(c)}
    if len(t) == 0 or len(c) == 0:
        return out
    diff = t.mean() - c.mean()
    se = np.sqrt(t.mean() * (1 - t.mean()) / len(t) + c.mean() * (1 - c.mean()) / len(c))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return {
        **out,
        "incremental_effect": diff,
        "incremental_low": diff - z * se,
        "incremental_high": diff + z * se,
    }


def attribution_report(
    log_path: str | Path,
    *,
    since: Any,
    window_days: float = 7.0,
    events_path: str | Path | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`attribute` on the recommendation log next to ``log_path`` (the contact log).

    Parameters
    ----------
    log_path
        The contact log (the recommendation log is its sibling).
    since
        Only answers shown at or after it.
    window_days
        Days after an answer in which a purchase counts.
    events_path
        The event store, for the control-group comparison; or None.
    confidence
        The intervals' confidence.

    Returns
    -------
    pandas.DataFrame
        As :func:`attribute`.
    """
    from kizuna.serving.attribution import RecommendationLog, store_path

    shown, conversions = RecommendationLog(store_path(log_path)).read()
    purchases = None
    if events_path is not None and Path(events_path).exists():
        from kizuna.serving.event_rows import read_events

        events = read_events(Path(events_path))
        if events is not None and len(events):
            purchases = events
    return attribute(
        shown,
        conversions,
        since=since,
        window_days=window_days,
        purchases=purchases,
        confidence=confidence,
    )
