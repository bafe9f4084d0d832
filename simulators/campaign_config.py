"""The simulated campaign's settings and the names of its outcome and truth columns."""

from __future__ import annotations

from dataclasses import dataclass

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError

# Outcomes columns (the campaign-outcomes file format).
OUTCOME_COLUMNS: tuple[str, ...] = (
    s.CUSTOMER_ID,
    s.CAMPAIGN_ID,
    s.OFFER_ID,
    s.TREATED,
    s.OUTCOME,
    s.REVENUE,
)

# Truth columns.
ARCHETYPE = "archetype"
LIKELY_ARCHETYPE = "likely_archetype"
P_CONTROL = "p_control"
P_TREATED = "p_treated"
TRUE_UPLIFT = "true_uplift"
EXPECTED_BASKET = "expected_basket"
TRUE_REVENUE_UPLIFT = "true_revenue_uplift"
TRUE_PROFIT_UPLIFT = "true_profit_uplift"
Y_CONTROL = "y_control"
Y_TREATED = "y_treated"
BASKET = "basket"
ALIVE_AT_AS_OF = "alive_at_as_of"

SURE_THING = "sure_thing"
PERSUADABLE = "persuadable"
SLEEPING_DOG = "sleeping_dog"
LOST_CAUSE = "lost_cause"
ARCHETYPES: tuple[str, ...] = (PERSUADABLE, SURE_THING, LOST_CAUSE, SLEEPING_DOG)


@dataclass(frozen=True)
class CampaignConfig:
    """Everything that shapes a simulated campaign (see the module docstring)."""

    campaign_id: str = "synthetic-winback"
    offer_id: str = "winback_15"
    horizon_days: float = 90.0
    control_share: float = 0.5
    persuade_max: float = 0.5
    persuade_peak_days: float = 120.0
    persuade_width: float = 0.6  # standard deviation of the bump, in log days
    persuade_orders_scale: float = 2.0
    annoy_max: float = 0.6
    annoy_days: float = 60.0
    annoy_orders_scale: float = 1.5
    noise_sigma: float = 0.3
    margin: float = 0.35
    discount_share: float = 0.15
    fixed_cost: float = 0.5

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> KizunaInputError:
            return KizunaInputError(rule, column=name, values=[getattr(self, name)])

        for name in (
            "horizon_days",
            "persuade_peak_days",
            "persuade_width",
            "persuade_orders_scale",
            "annoy_days",
            "annoy_orders_scale",
        ):
            if not getattr(self, name) > 0:
                raise bad(name, "must be positive")
        for name in ("control_share", "persuade_max", "annoy_max", "margin", "discount_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(name, "must be in [0, 1]")
        if self.noise_sigma < 0 or self.fixed_cost < 0:
            raise bad(
                "noise_sigma" if self.noise_sigma < 0 else "fixed_cost", "must not be negative"
            )
