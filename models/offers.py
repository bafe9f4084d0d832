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

CSV shape: one row per offer with the columns of :data:`CSV_COLUMNS`; list
fields (``segments``, ``channels``) are separated by ``|``; empty cells take the
default. The catalogue-level ``margin`` and ``contact_policy`` are passed to
:func:`load_offers` as keyword arguments for CSV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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

#: Flat CSV columns, in the order :func:`offers_to_rows` writes them.
CSV_COLUMNS: tuple[str, ...] = (
    "offer_id", "type", "description", "fixed_cost", "discount_share", "save_rate",
    "incremental_share", "max_items", "segments", "churn_min", "churn_max", "min_ltv",
    "days_min", "days_max", "channels", "cooldown_days", "max_contacts", "period_days",
)  # fmt: skip
LIST_SEP = "|"
#: Floor of ``1 - churn_probability`` when LTV is an expected value (``ltv_basis: expected``).
MIN_RETENTION = 0.1


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
        """``(low, high)`` with open bounds as -inf / +inf."""
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
    ltv_basis: Literal["if_retained", "expected"] = "if_retained"

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


# --- parsing ----------------------------------------------------------------------


def load_offers(
    source: Mapping[str, Any] | Sequence[Mapping[str, Any]] | OfferCatalogue,
    *,
    margin: float | None = None,
    contact_policy: Mapping[str, Any] | None = None,
    ltv_basis: str | None = None,
) -> OfferCatalogue:
    """Parse an already-read catalogue: a YAML mapping, or CSV rows.

    Parameters
    ----------
    source
        A mapping with an ``offers`` list (YAML), or a sequence of flat rows with
        the columns of :data:`CSV_COLUMNS` (``csv.DictReader`` rows or
        ``DataFrame.to_dict("records")``); an :class:`OfferCatalogue` passes through.
    margin, contact_policy, ltv_basis
        Override (YAML) or supply (CSV) the catalogue-level settings.

    Returns
    -------
    OfferCatalogue

    Raises
    ------
    KizunaInputError
        Naming the offer and the field at fault.
    """
    if isinstance(source, OfferCatalogue):
        data: dict[str, Any] = source.model_dump()
    elif isinstance(source, Mapping):
        data = dict(source)
        if "offers" not in data:
            raise KizunaInputError("an offer catalogue needs an `offers:` list", column="offers")
    elif isinstance(source, Sequence) and not isinstance(source, str | bytes):
        data = {"offers": [_from_row(row, i) for i, row in enumerate(source)]}
    else:
        raise KizunaInputError(
            f"expected a mapping with `offers:` or a list of CSV rows, got {type(source).__name__}"
        )
    if margin is not None:
        data["margin"] = margin
    if contact_policy is not None:
        data["contact_policy"] = dict(contact_policy)
    if ltv_basis is not None:
        data["ltv_basis"] = ltv_basis
    offers = data.get("offers")
    if not isinstance(offers, list | tuple) or not offers:
        raise KizunaInputError("`offers` must be a non-empty list", column="offers")
    parsed = [_parse_offer(raw, i) for i, raw in enumerate(offers)]
    try:
        return OfferCatalogue.model_validate({**data, "offers": parsed})
    except ValidationError as exc:
        raise _error(exc, where="offer catalogue") from None


def _parse_offer(raw: Any, position: int) -> Offer:
    if isinstance(raw, Offer):
        return raw
    if not isinstance(raw, Mapping):
        raise KizunaInputError(
            f"offer #{position + 1} must be a mapping, got {type(raw).__name__}", column="offers"
        )
    name = raw.get("offer_id")
    where = f"offer {name!r}" if name else f"offer #{position + 1}"
    try:
        return Offer.model_validate(dict(raw))
    except ValidationError as exc:
        raise _error(exc, where=where) from None


def _error(exc: ValidationError, *, where: str) -> KizunaInputError:
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, Mapping) else f" (got {value!r})"
        problems.append(f"field {field}: {err['msg']}{shown}")
    first = exc.errors()[0]["loc"] if exc.errors() else ()
    return KizunaInputError(
        f"{where}: " + "; ".join(problems),
        column=".".join(str(p) for p in first) or None,
    )


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _from_row(row: Mapping[str, Any], position: int) -> dict[str, Any]:
    """A flat CSV row -> the nested mapping :class:`Offer` reads; unknown columns fail."""
    if not isinstance(row, Mapping):
        raise KizunaInputError(f"CSV row {position + 1} is not a mapping", column="offers")
    unknown = [c for c in row if c not in CSV_COLUMNS]
    name = row.get("offer_id")
    if unknown:
        raise KizunaInputError(
            f"offer {name!r}: unknown column(s) {unknown}; known: {list(CSV_COLUMNS)}",
            column=str(unknown[0]),
        )
    v = {k: (None if _blank(val) else val) for k, val in row.items()}

    def listed(key: str) -> list[str] | None:
        if v.get(key) is None:
            return None
        return [p.strip() for p in str(v[key]).split(LIST_SEP) if p.strip()]

    def put(target: dict[str, Any], key: str, value: Any) -> None:
        if value is not None:
            target[key] = value

    out: dict[str, Any] = {}
    for key in ("offer_id", "type", "description", "save_rate", "incremental_share", "max_items"):
        put(out, key, v.get(key))
    cost: dict[str, Any] = {}
    put(cost, "fixed", v.get("fixed_cost"))
    put(cost, "discount_share", v.get("discount_share"))
    elig: dict[str, Any] = {}
    put(elig, "segments", listed("segments"))
    put(elig, "channels", listed("channels"))
    put(elig, "min_ltv", v.get("min_ltv"))

    def bounds(low: str, high: str) -> dict[str, Any]:
        return {k: v[c] for k, c in (("min", low), ("max", high)) if v.get(c) is not None}

    churn, days = bounds("churn_min", "churn_max"), bounds("days_min", "days_max")
    if churn:
        elig["churn_probability"] = churn
    if days:
        elig["days_since_last_purchase"] = days
    caps: dict[str, Any] = {}
    for key in ("cooldown_days", "max_contacts", "period_days"):
        put(caps, key, v.get(key))
    for key, part in (("cost", cost), ("eligibility", elig), ("caps", caps)):
        if part:
            out[key] = part
    return out


def offers_to_rows(catalogue: OfferCatalogue) -> list[dict[str, Any]]:
    """The flat CSV rows of a catalogue (inverse of the CSV path of :func:`load_offers`)."""
    rows = []
    for o in catalogue.offers:
        e, c = o.eligibility, o.caps
        rows.append({
            "offer_id": o.offer_id, "type": o.type, "description": o.description,
            "fixed_cost": o.cost.fixed, "discount_share": o.cost.discount_share,
            "save_rate": o.save_rate, "incremental_share": o.incremental_share,
            "max_items": o.max_items, "segments": LIST_SEP.join(e.segments) or None,
            "churn_min": e.churn_probability.min, "churn_max": e.churn_probability.max,
            "min_ltv": e.min_ltv, "days_min": e.days_since_last_purchase.min,
            "days_max": e.days_since_last_purchase.max,
            "channels": LIST_SEP.join(e.channels) or None, "cooldown_days": c.cooldown_days,
            "max_contacts": c.max_contacts, "period_days": c.period_days,
        })  # fmt: skip
    return rows
