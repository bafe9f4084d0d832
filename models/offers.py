"""The offer catalogue: what the decision layer may offer, at what cost, to whom, how often.

A catalogue is read from YAML (a mapping with ``offers:``) or from CSV rows (one
flat row per offer); the reading itself happens in ``training`` and this module
only parses the already-read data into frozen, validated models.

YAML shape (every field but ``offer_id`` and ``type`` has a default)::

    margin: 0.35                 # share of revenue and of predicted LTV kept as profit
    ltv_basis: expected          # predicted_value already counts churn (kizuna's LTV model)
    contact_policy:              # across all offers, per customer
      max_contacts: 2            #   at most 2 contacts ...
      period_days: 30            #   ... in any 30 days
      min_days_between: 7        #   and 7 days between two contacts
    offers:
      - offer_id: winback_15
        type: win_back           # see OFFER_TYPES
        description: 15 % off the next order
        cost: {fixed: 0.30, discount_share: 0.15}
        save_rate: 0.12          # retention offers: share of would-be churners kept
        eligibility:
          segments: [At risk, Hibernating]      # empty = every segment
          churn_probability: {min: 0.3, max: 0.95}
          min_ltv: 20
          days_since_last_purchase: {min: 45, max: 365}
          channels: [email, sms]                # empty = every channel
        caps: {cooldown_days: 60, max_contacts: 2, period_days: 180}

CSV shape: one row per offer with the columns of :data:`models.offer_loading.CSV_COLUMNS`; list
fields (``segments``, ``channels``) are separated by ``|``; empty cells take the
default. The catalogue-level ``margin`` and ``contact_policy`` are passed to
:func:`models.offer_loading.load_offers` as keyword arguments for CSV.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kizuna.features.errors import KizunaInputError

NO_OFFER = "no_offer"

OfferType = Literal[
    "cross_sell", "upsell", "discount", "loyalty_reward", "tier_upgrade", "win_back",
    "service_contact",
]  # fmt: skip
OFFER_TYPES: tuple[str, ...] = OfferType.__args__  # type: ignore[attr-defined]
#: Offers whose value comes from recommended items: P(purchase) x item margin.
PRODUCT_TYPES: tuple[str, ...] = ("cross_sell", "upsell")
#: Offers whose value comes from keeping the customer: churn x LTV x save rate.
RETENTION_TYPES: tuple[str, ...] = tuple(t for t in OFFER_TYPES if t not in PRODUCT_TYPES)

#: Floor of ``1 - churn_probability`` when LTV is an expected value (``ltv_basis: expected``).
MIN_RETENTION = 0.1
#: What ``predicted_value`` means when no catalogue says: the value of the customer if kept.
DEFAULT_LTV_BASIS = "if_retained"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Frozen):
    """A closed interval ``[min, max]``; a missing bound is open."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self

    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` with open bounds as -inf / +inf.

        Returns
        -------
        (float, float)
        """
        return (
            -math.inf if self.min is None else float(self.min),
            math.inf if self.max is None else float(self.max),
        )


class CostModel(_Frozen):
    """What one offer costs.

    Attributes
    ----------
    fixed
        Per contact, whatever the customer does (postage, agent time, points), in
        currency.
    discount_share
        Share of the basket given away when the customer buys with the offer
        (0.15 = 15 % off); charged only on a purchase, so its expected cost is
        ``discount_share x basket x P(purchase | offered)``.
    """

    fixed: float = Field(0.0, ge=0)
    discount_share: float = Field(0.0, ge=0, lt=1)


class Eligibility(_Frozen):
    """Who may receive an offer. Empty lists and missing bounds mean 'no restriction'.

    ``min_ltv`` compares with ``predicted_value`` as the customers frame gives it
    (before any ``ltv_basis`` conversion); a customer with an unknown
    ``days_since_last_purchase`` fails a days rule.
    """

    segments: tuple[str, ...] = ()
    churn_probability: Range = Range()
    min_ltv: float | None = None
    days_since_last_purchase: Range = Range()
    channels: tuple[str, ...] = ()

    @field_validator("churn_probability")
    @classmethod
    def _probability(cls, value: Range) -> Range:
        low, high = value.bounds()
        if low > 1 or high < 0:
            raise ValueError("churn probability bounds must overlap [0, 1]")
        return value


class Caps(_Frozen):
    """How often one customer may receive this offer.

    Attributes
    ----------
    cooldown_days
        Days after a contact with this offer before it may be made again.
    max_contacts
        At most this many contacts with this offer in any ``period_days``
        (``None``: no cap).
    period_days
        Length of the window ``max_contacts`` counts over.
    """

    cooldown_days: float = Field(0, ge=0)
    max_contacts: int | None = Field(None, ge=1)
    period_days: float = Field(30, gt=0)


class ContactPolicy(_Frozen):
    """Caps across all offers, per customer: the guard against over-contacting."""

    max_contacts: int | None = Field(None, ge=1)
    period_days: float = Field(30, gt=0)
    min_days_between: float = Field(0, ge=0)


class Offer(_Frozen):
    """One offer of the catalogue.

    Attributes
    ----------
    offer_id
        Unique name; ``"no_offer"`` is reserved.
    type
        One of :data:`OFFER_TYPES`. ``cross_sell`` and ``upsell`` are product
        offers (valued from recommended items); the rest are retention offers
        (valued from churn risk, LTV and the save rate).
    save_rate
        Retention offers: share of would-be churners the offer keeps, used when
        no learned uplift is given. Required for retention offers.
    incremental_share
        Product offers: share of the recommended purchases that the offer causes
        (1.0 treats every predicted purchase as caused by the offer).
    max_items
        Product offers: how many recommended items the offer shows.
    """

    offer_id: str = Field(min_length=1)
    type: OfferType
    description: str = ""
    cost: CostModel = CostModel()
    save_rate: float | None = Field(None, ge=0, le=1)
    incremental_share: float = Field(1.0, ge=0, le=1)
    max_items: int = Field(3, ge=1)
    eligibility: Eligibility = Eligibility()
    caps: Caps = Caps()

    @field_validator("offer_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.strip() != value:
            raise ValueError("must not start or end with spaces")
        if value == NO_OFFER:
            raise ValueError(f"{NO_OFFER!r} is reserved for 'make no offer'")
        return value

    @model_validator(mode="after")
    def _save_rate_for_retention(self) -> Offer:
        if self.type in RETENTION_TYPES and self.save_rate is None:
            raise ValueError(f"save_rate is required for a {self.type} offer (field save_rate)")
        return self

    @property
    def is_product(self) -> bool:
        return self.type in PRODUCT_TYPES


class OfferCatalogue(_Frozen):
    """Every offer plus the settings shared by all.

    Attributes
    ----------
    offers
        At least one offer; ids unique.
    margin
        Share of revenue (and of predicted LTV) kept as profit, in (0, 1]; 1.0
        when LTV is already a profit figure.
    contact_policy
        Per-customer caps across offers.
    ltv_basis
        What ``predicted_value`` means. ``"if_retained"``: the value of the
        customer if kept (used as is). ``"expected"``: expected value with the
        churn risk already in it, as kizuna's LTV model predicts (horizon
        revenue, zero for churners); the value at stake is then
        ``predicted_value / (1 - churn_probability)``, with ``1 - churn`` floored at
        :data:`MIN_RETENTION` so that a near-certain churner's value stays finite.
    """

    offers: tuple[Offer, ...] = Field(min_length=1)
    margin: float = Field(1.0, gt=0, le=1)
    contact_policy: ContactPolicy = ContactPolicy()
    ltv_basis: Literal["if_retained", "expected"] = DEFAULT_LTV_BASIS

    @model_validator(mode="after")
    def _unique_ids(self) -> OfferCatalogue:
        seen: set[str] = set()
        for offer in self.offers:
            if offer.offer_id in seen:
                raise ValueError(f"offer_id {offer.offer_id!r} appears twice")
            seen.add(offer.offer_id)
        return self

    @property
    def offer_ids(self) -> tuple[str, ...]:
        return tuple(o.offer_id for o in self.offers)

    def get(self, offer_id: str) -> Offer:
        for offer in self.offers:
            if offer.offer_id == offer_id:
                return offer
        raise KizunaInputError(f"unknown offer {offer_id!r}", column="offer_id", values=[offer_id])
