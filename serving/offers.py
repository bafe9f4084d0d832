"""Next-best offer for one customer: the served scores fed into ``models.next_best_offer``.

The decision itself (eligibility, caps, expected value) is
:func:`models.next_best_offer.decide_one`; this module only gathers its
inputs from the loaded models and customer state:

* the customer's churn probability, predicted horizon value, days since the
  last purchase, segment and mean order value (``/customer``'s numbers);
* product candidates: the recommender's new-item picks, each with
  P(purchase) = the holdout purchase rate of its rank (measured in training)
  and a profit per purchase = median price x the catalogue's margin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.control_groups import in_control
from kizuna.models.next_best_offer import decide_one
from kizuna.models.offers import OfferCatalogue
from kizuna.serving import schemas as api
from kizuna.serving.live import Served
from kizuna.serving.recommendations import recommend
from kizuna.serving.scoring import customer_profile

CANDIDATES = 10


def next_best_offer(
    served: Served,
    req: api.NextBestOfferRequest,
    *,
    catalogue: OfferCatalogue,
    contacts: pd.DataFrame,
    now: pd.Timestamp,
    bands: tuple[float, float],
) -> tuple[api.NextBestOfferResponse, list[dict[str, Any]]]:
    """Decide for one customer; also return the raw decisions (for the contact log).

    Parameters
    ----------
    served
        The snapshot to answer from.
    req
        The ``/next_best_offer`` request.
    catalogue
        The offers.
    contacts
        Past contacts from the contact log.
    now
        The decision time.
    bands
        The risk band thresholds, low then high.

    Returns
    -------
    response : NextBestOfferResponse
    decisions : list of dict
        The raw decision rows.
    """
    cid = req.customer_id
    if (
        req.campaign_id
        and req.control_share > 0
        and in_control(pd.Series([cid]), req.campaign_id, req.control_share)[0]
    ):
        return api.NextBestOfferResponse(
            customer_id=cid,
            known=served.state.position(cid) >= 0,
            group="control",
            decisions=[
                api.OfferDecision(
                    rank=1,
                    offer_id="no_offer",
                    expected_value=0.0,
                    reasons=["held out in the campaign's control group"],
                )
            ],
            model_versions=served.versions,
        ), []
    profile = customer_profile(served, api.CustomerRequest(customer_id=cid), bands=bands)
    if not profile.known or profile.churn_probability is None:
        return api.NextBestOfferResponse(
            customer_id=cid,
            known=profile.known,
            decisions=[
                api.OfferDecision(
                    rank=1,
                    offer_id="no_offer",
                    expected_value=0.0,
                    reasons=["no purchase history to value an offer on"],
                )
            ],
            model_versions=served.versions,
        ), []
    customer = {
        s.CUSTOMER_ID: cid,
        s.SEGMENT: profile.segment,
        s.CHURN_PROBABILITY: profile.churn_probability,
        s.PREDICTED_VALUE: profile.predicted_value or 0.0,
        s.DAYS_SINCE_LAST_PURCHASE: profile.recency_days,
        s.MONETARY_MEAN: profile.monetary_mean or 0.0,
    }
    raw = decide_one(
        customer,
        catalogue,
        product_candidates=product_candidates(served, cid, catalogue),
        contact_log=contacts,
        now=now,
        channel=req.channel,
        k=req.k,
    )
    return api.NextBestOfferResponse(
        customer_id=cid,
        known=True,
        decisions=[_decision(row) for row in raw],
        model_versions=served.versions,
    ), raw


def known_channels(catalogue: OfferCatalogue) -> list[str]:
    """Every channel some offer of the catalogue names (empty: no offer restricts channels).

    Parameters
    ----------
    catalogue
        The offers.

    Returns
    -------
    list of str
    """
    return sorted({c for offer in catalogue.offers for c in offer.eligibility.channels})


def log_window_days(catalogue: OfferCatalogue) -> float:
    """How far back the contact log can matter: the longest cooldown or cap period.

    Parameters
    ----------
    catalogue
        The offers.

    Returns
    -------
    float
        Days.
    """
    policy = catalogue.contact_policy
    days = [policy.period_days, policy.min_days_between]
    for offer in catalogue.offers:
        days += [offer.caps.cooldown_days, offer.caps.period_days]
    return float(max(days)) + 1.0


def product_candidates(served: Served, customer_id: str, catalogue: OfferCatalogue) -> list[dict]:
    """The recommender's new-item picks with P(purchase) and profit per purchase.

    Parameters
    ----------
    served
        The snapshot to answer from.
    customer_id
        The customer's id.
    catalogue
        The offers.

    Returns
    -------
    list of dict
        One row per pick: ``customer_id``, ``item_id``, ``p_purchase``, values.
    """
    bundle = served.models.recommender
    if bundle is None or bundle.purchase_rate_by_rank is None or bundle.item_prices is None:
        return []
    picks = recommend(
        served, api.RecommendRequest(customer_id=customer_id, k=CANDIDATES, exclude_purchased=True)
    )
    rates = np.asarray(bundle.purchase_rate_by_rank, dtype=float)
    codes = bundle.item_ids.get_indexer([item.item_id for item in picks.items])
    out = []
    for rank, (item, code) in enumerate(zip(picks.items, codes, strict=True)):
        price = float(bundle.item_prices[code]) if code >= 0 else float("nan")
        if rank >= len(rates) or not np.isfinite(price):
            continue
        out.append(
            {
                s.ITEM_ID: item.item_id,
                s.P_PURCHASE: float(rates[rank]),
                s.PRICE: price,
                s.MARGIN: catalogue.margin,
            }
        )
    return out


def _decision(row: dict[str, Any]) -> api.OfferDecision:
    return api.OfferDecision(
        rank=int(row["rank"]),
        offer_id=str(row["offer_id"]),
        offer_type=row.get("offer_type"),
        expected_value=float(row["expected_value"]),
        expected_benefit=row.get("expected_benefit"),
        expected_cost=row.get("expected_cost"),
        retention_uplift=row.get("retention_uplift"),
        uplift_source=row.get("uplift_source"),
        items=[str(i) for i in row.get("items") or []],
        reasons=[str(r) for r in row.get("reasons") or []],
    )
