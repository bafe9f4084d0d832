"""Request and response models of ``/next_best_offer`` and ``/audience``.

Strict like every request model (:mod:`serving.schema_base`); importable from
:mod:`serving.schemas` with the others.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kizuna.serving.schema_base import Id, Request, Response, Versions


class NextBestOfferRequest(Request):
    """The best offer (or none) for one customer, from the experiment's offer catalogue."""

    customer_id: Id
    k: int = Field(1, ge=1, le=10, description="Offers to return, best first, 1 to 10.")
    channel: Id | None = Field(None, description="Channel asking, e.g. email, web, app.")
    campaign_id: Id | None = Field(None, description="With control_share: the control split.")
    control_share: float = Field(
        0.0, ge=0.0, lt=1.0, description="Share of customers held out as a control group."
    )
    record: bool = Field(False, description="Log the top offer as a contact (caps, cooldowns).")


class OfferDecision(Response):
    rank: int
    offer_id: str
    offer_type: str | None = None
    expected_value: float
    expected_benefit: float | None = None
    expected_cost: float | None = None
    retention_uplift: float | None = None
    uplift_source: str | None = None
    items: list[str] = []
    reasons: list[str] = []


class NextBestOfferResponse(Response):
    customer_id: str
    known: bool
    group: Literal["treated", "control"] = "treated"
    decisions: list[OfferDecision]
    recorded: bool = False
    model_versions: dict[str, int | str | None]
    recommendation_id: str | None = Field(
        None, description="Pass it back on /events lines to attribute purchases to this answer."
    )


# --- audiences -------------------------------------------------------------------------


class AudienceRequest(Request):
    """Customers most likely to buy an item (or any item of a category) within the horizon."""

    item_id: Id | None = Field(None, description="The item; or give `category`.")
    category: Id | None = Field(None, description="A category; or give `item_id`.")
    n: int = Field(100, ge=1, le=10_000, description="Audience size, 1 to 10,000.")
    horizon_days: int = Field(90, ge=1, le=365, description="Days ahead for P(order).")
    exclude_days: int = Field(
        30, ge=0, le=3650, description="Leave out customers who bought it in these last days."
    )
    campaign_id: Id | None = Field(
        None, description="With control_share: the control split, as /next_best_offer's."
    )
    control_share: float = Field(
        0.0, ge=0.0, lt=1.0, description="Share of the audience flagged as the control group."
    )


class AudienceMember(Response):
    customer_id: str
    score: float = Field(description="affinity × P(order within the horizon)")
    affinity: float = Field(description="0-1: the item's place among this customer's items")
    p_order: float
    group: Literal["treated", "control"] = Field(
        "treated", description="control: held out of the campaign; do not contact."
    )
    reasons: list[str] = []


class AudienceResponse(Response):
    item_id: str | None = None
    category: str | None = None
    horizon_days: int
    customers: list[AudienceMember]
    excluded_recent_buyers: int
    campaign_id: str | None = None
    control: int = Field(0, description="Members in the control group.")
    model_versions: Versions
