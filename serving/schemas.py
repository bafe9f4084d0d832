"""Request and response models of the service, with their limits.

Request models are strict: no string is read as a number or a boolean, no
number as an id, unknown fields are errors (a misspelt option is not a silent
default), and validation errors hide input values, so a refused request never
writes customer data to the log. Batch sizes are checked against
``KIZUNA_MAX_BATCH`` / ``KIZUNA_MAX_EVENTS`` by
:mod:`serving.validation` (422 with the field's path); the OpenAPI document
shows them as ``maxItems`` (:mod:`serving.openapi`, from the settings at start).
The offer and audience models are in :mod:`serving.schemas_marketing` (importable
from here too); the shared base classes in :mod:`serving.schema_base`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from kizuna.features.timestamps import parse_timestamp_value
from kizuna.serving.config import MAX_K, MAX_LIST_ITEMS, MAX_TOP_REASONS
from kizuna.serving.event_timestamps import for_events, settle_timestamps
from kizuna.serving.schema_base import Id, Request, Response, Versions
from kizuna.serving.schemas_marketing import AudienceMember as AudienceMember  # re-exported
from kizuna.serving.schemas_marketing import AudienceRequest as AudienceRequest
from kizuna.serving.schemas_marketing import AudienceResponse as AudienceResponse
from kizuna.serving.schemas_marketing import NextBestOfferRequest as NextBestOfferRequest
from kizuna.serving.schemas_marketing import NextBestOfferResponse as NextBestOfferResponse
from kizuna.serving.schemas_marketing import OfferDecision as OfferDecision

# --- recommendations -----------------------------------------------------------------


class RecommendRequest(Request):
    """Top-k items for one customer, with filters."""

    customer_id: Id
    k: int = Field(10, ge=1, le=MAX_K, description="How many items, 1 to 100.")
    exclude_purchased: bool = Field(True, description="Leave out items the customer bought.")
    exclude_items: list[Id] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description="Items never to return (e.g. in the basket).",
    )
    categories: list[Id] | None = Field(
        None, min_length=1, max_length=MAX_LIST_ITEMS, description="Only items of these categories."
    )
    in_stock_only: bool = Field(True, description="Only items the catalogue has in stock.")


class RecommendedItem(Response):
    item_id: str
    score: float
    reason: str = Field(
        description="Why: 'bought before', 'similar to X', 'popular in category Y', ..."
    )
    name: str | None = None
    category: str | None = None


class RecommendResponse(Response):
    customer_id: str
    items: list[RecommendedItem]
    fallback: bool = Field(
        description="True when the cold-start fallback answered "
        "(stated preferences, then trending items)."
    )
    model_versions: Versions
    recommendation_id: str | None = Field(
        None, description="Pass it back on /events lines to attribute purchases to this answer."
    )


class SimilarItemsRequest(Request):
    item_id: Id
    k: int = Field(10, ge=1, le=MAX_K)
    in_stock_only: bool = False
    categories: list[Id] | None = Field(None, min_length=1, max_length=MAX_LIST_ITEMS)


class SimilarItem(Response):
    item_id: str
    score: float
    name: str | None = None
    category: str | None = None


class SimilarItemsResponse(Response):
    item_id: str
    items: list[SimilarItem]
    model_versions: Versions
    recommendation_id: str | None = Field(
        None, description="Pass it back on /events lines to attribute purchases to this answer."
    )


# --- churn and value -------------------------------------------------------------------


class CustomerBatchRequest(Request):
    customer_ids: list[Id] = Field(
        json_schema_extra={"minItems": 1},
        description="1 to KIZUNA_MAX_BATCH customer ids (default 10,000).",
    )


class ChurnRequest(CustomerBatchRequest):
    top_reasons: int = Field(
        3, ge=0, le=MAX_TOP_REASONS, description="Reasons per customer (0 = none)."
    )


class Reason(Response):
    feature: str
    phrase: str
    contribution: float
    value: float | int | str | bool | None = None


class ChurnScore(Response):
    customer_id: str
    known: bool = Field(description="False: no purchase history; the scores are null.")
    churn_probability: float | None = None
    risk_band: Literal["low", "medium", "high"] | None = None
    reasons: list[Reason] = Field(default_factory=list)


class ChurnResponse(Response):
    results: list[ChurnScore]
    unknown: int = Field(description="How many ids have no history.")
    horizon_days: int | None = None
    model_versions: Versions


class LTVRequest(CustomerBatchRequest):
    pass


class LTVScore(Response):
    customer_id: str
    known: bool
    predicted_value: float | None = Field(
        None, description="Net revenue expected over the horizon."
    )
    p_alive: float | None = None
    expected_orders: float | None = Field(
        None, description="Expected orders over the horizon (BG/NBD)."
    )
    next_order_date: date | None = Field(None, description="Expected date of the next order.")
    next_order_days: float | None = Field(None, description="Days from as_of to that date.")
    p_order_30d: float | None = Field(None, description="P(at least one order in 30 days).")
    p_order_60d: float | None = None
    p_order_90d: float | None = None


class LTVResponse(Response):
    results: list[LTVScore]
    unknown: int
    horizon_days: int | None = None
    model_versions: Versions


class CustomerRequest(Request):
    customer_id: Id


class CustomerProfile(Response):
    customer_id: str
    known: bool
    as_of: datetime | None = None
    recency_days: float | None = None
    frequency: int | None = None
    monetary_total: float | None = None
    monetary_mean: float | None = None
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    rfm_score: str | None = None
    segment: str | None = None
    churn_probability: float | None = None
    risk_band: Literal["low", "medium", "high"] | None = None
    predicted_value: float | None = None
    p_alive: float | None = None
    expected_orders: float | None = None
    horizon_days: int | None = None
    next_order_date: date | None = Field(None, description="Expected date of the next order.")
    next_order_days: float | None = Field(None, description="Days from as_of to that date.")
    p_order_30d: float | None = Field(None, description="P(at least one order in 30 days).")
    p_order_60d: float | None = None
    p_order_90d: float | None = None
    stated_preferences: list[str] = Field(default_factory=list)
    model_versions: Versions


# --- events ----------------------------------------------------------------------------


class PurchaseEvent(Request):
    """One order line in the transactions contract (negative quantity = return)."""

    customer_id: Id
    order_id: Id
    item_id: Id
    timestamp: datetime = Field(
        description="ISO 8601 text, the same rule as training files; with a zone it is "
        "converted to UTC. Numbers (Unix times) are refused rather than guessed."
    )
    quantity: float = Field(allow_inf_nan=False)
    unit_price: float = Field(allow_inf_nan=False)
    channel: Id | None = None
    category: Id | None = None
    recommendation_id: Id | None = Field(
        None, description="The recommendation_id of the answer that led to this purchase."
    )

    @field_validator("timestamp", mode="before")
    @classmethod
    def _one_rule(cls, value: Any) -> Any:
        # The parser that reads training files reads events too: one rule for the column.
        if isinstance(value, datetime):
            return value
        try:
            return parse_timestamp_value(value)
        except ValueError as exc:
            raise ValueError(for_events(str(exc))) from None

    @field_validator("timestamp")
    @classmethod
    def _naive_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        if not 1970 <= value.year <= 2200:
            raise ValueError("timestamp must lie between the years 1970 and 2200")
        return value


class EventsRequest(Request):
    events: list[PurchaseEvent] = Field(
        json_schema_extra={"minItems": 1},
        description="1 to KIZUNA_MAX_EVENTS lines (default 1,000).",
    )

    @field_validator("events", mode="before")
    @classmethod
    def _one_column(cls, value: Any) -> Any:
        return settle_timestamps(value)


class EventsResponse(Response):
    request_id: str
    stored: int = Field(description="Lines written to the event store.")
    duplicates: int = Field(
        description="Lines skipped as exact repeats: of a stored line (a safe retry) or of an "
        "earlier line of the same request (stored once, as training's duplicate_row rule does)."
    )
    customers_updated: int
    model_versions: Versions


# --- operations --------------------------------------------------------------------------


class ReloadResponse(Response):
    reloaded: bool
    message: str
    model_versions: Versions
    previous_versions: Versions
    error: str | None = None


class StatusResponse(Response):
    ready: bool
    model_source: str
    model_versions: Versions
    as_of: datetime | None = None
    customers: int = 0
    items: int = 0
    events_applied: int = 0
    loaded_at: datetime | None = None
    last_reload_error: str | None = None
    degraded: dict[str, str] = Field(
        default_factory=dict,
        description="Model kinds that failed to load (their endpoints answer 503) -> cause.",
    )
    details: dict[str, Any] = Field(default_factory=dict)
