"""Parameters of the synthetic shop, its column names, and their checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kizuna.features.errors import KizunaInputError

CATEGORY_NAMES: tuple[str, ...] = (
    "apparel",
    "beauty",
    "books",
    "electronics",
    "garden",
    "grocery",
    "home",
    "kitchen",
    "outdoors",
    "pets",
    "sports",
    "toys",
)
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
REGION = "region"

# Truth-table columns (per customer).
IS_COLD_START = "is_cold_start"
PURCHASE_RATE = "purchase_rate_per_week"
DROPOUT_PROB = "dropout_prob"
SPEND_SCALE = "spend_scale_nu"
MEAN_ORDER_VALUE = "mean_order_value"
RETURN_PROB = "return_prob"
PRIMARY_CHANNEL = "primary_channel"
N_FOCUS = "n_focus_categories"
TOP_CATEGORIES = "top_categories"
FIRST_PURCHASE = "first_purchase"
N_ORDERS = "n_orders"
N_REPEAT = "n_repeat_purchases"
DROPOUT_TIME = "dropout_time"
ALIVE_AT_END = "alive_at_end"
PREF_PREFIX = "pref_"

# Item-truth columns.
CATEGORY_POPULARITY = "category_popularity"
WITHIN_CATEGORY_POPULARITY = "within_category_popularity"
POPULARITY_RANK = "popularity_rank"

SECONDS_PER_WEEK = 7 * 86_400
US = 1_000_000
FULL_RETURN_PROB = 0.7


@dataclass(frozen=True)
class ShopConfig:
    """Everything that determines a synthetic shop; same config, same shop.

    Rates are per week. History covers ``[start, end)``: ``end`` is exclusive.
    ``n_customers`` counts customers with at least one purchase; cold-start
    customers and items come on top.
    """

    n_customers: int = 5_000
    n_items: int = 300
    n_categories: int = 12
    start: str = "2023-01-01"
    end: str = "2025-01-01"
    seed: int = 0
    # BG/NBD: lambda ~ Gamma(shape=rate_r, rate=rate_alpha) per week; p ~ Beta(a, b).
    rate_r: float = 1.0
    rate_alpha: float = 6.0
    dropout_a: float = 1.0
    dropout_b: float = 6.0
    # Gamma-Gamma: nu ~ Gamma(shape=spend_q, rate=spend_gamma); z ~ Gamma(spend_p, nu).
    spend_p: float = 6.0
    spend_q: float = 4.0
    spend_gamma: float = 25.0
    # Baskets and catalogue.
    mean_candidate_lines: float = 3.0
    max_candidate_lines: int = 10
    item_zipf_exponent: float = 1.1
    median_price: float = 10.0
    in_stock_share: float = 0.95
    # Preferences: P(1, 2, 3 focus categories); Dirichlet weights on focus / others.
    focus_count_probs: tuple[float, ...] = (0.5, 0.3, 0.2)
    focus_concentration: float = 2.0
    background_concentration: float = 0.05
    stated_preference_share: float = 0.3
    # Cold start.
    n_cold_start_customers: int = 50
    cold_start_stated_preference_share: float = 0.6
    n_cold_start_items: int = 10
    # Returns: per-customer propensity ~ Beta with this mean and concentration.
    return_share: float = 0.05
    return_concentration: float = 4.0
    mean_return_delay_days: float = 7.0
    mean_signup_lead_days: float = 10.0
    # Channels: each customer has a primary channel used with probability loyalty.
    channels: tuple[str, ...] = ("web", "app", "store")
    channel_weights: tuple[float, ...] = (0.5, 0.3, 0.2)
    channel_loyalty: float = 0.8

    def __post_init__(self) -> None:
        check_config(self)

    @property
    def start_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.start).as_unit("us")

    @property
    def end_ts(self) -> pd.Timestamp:
        """First instant after the history (exclusive)."""
        return pd.Timestamp(self.end).as_unit("us")

    @property
    def n_weeks(self) -> float:
        return (self.end_ts - self.start_ts).total_seconds() / SECONDS_PER_WEEK

    @property
    def category_names(self) -> tuple[str, ...]:
        extra = tuple(f"cat_{i + 1:02d}" for i in range(len(CATEGORY_NAMES), self.n_categories))
        return (CATEGORY_NAMES + extra)[: self.n_categories]


def check_config(cfg: ShopConfig) -> None:
    def bad(name: str, rule: str) -> KizunaInputError:
        return KizunaInputError(rule, column=name, values=[getattr(cfg, name)])

    for name in ("n_customers", "n_items", "n_categories", "max_candidate_lines"):
        if int(getattr(cfg, name)) < 1:
            raise bad(name, "must be at least 1")
    for name in ("n_cold_start_customers", "n_cold_start_items"):
        if int(getattr(cfg, name)) < 0:
            raise bad(name, "must not be negative")
    if cfg.n_items < cfg.n_categories:
        raise bad("n_items", f"must be at least n_categories ({cfg.n_categories})")
    positive = (
        "rate_r", "rate_alpha", "dropout_a", "dropout_b", "spend_p", "spend_q",
        "spend_gamma", "focus_concentration", "background_concentration",
        "median_price", "return_concentration", "item_zipf_exponent",
    )  # fmt: skip
    for name in positive:
        if not float(getattr(cfg, name)) > 0:
            raise bad(name, "must be positive")
    shares = (
        "in_stock_share", "stated_preference_share", "cold_start_stated_preference_share",
        "channel_loyalty",
    )  # fmt: skip
    for name in shares:
        if not 0 <= float(getattr(cfg, name)) <= 1:
            raise bad(name, "must be in [0, 1]")
    if not 0 <= cfg.return_share < 1:
        raise bad("return_share", "must be in [0, 1)")
    if cfg.mean_candidate_lines < 1:
        raise bad("mean_candidate_lines", "must be at least 1")
    if cfg.mean_return_delay_days < 1 or cfg.mean_signup_lead_days < 0:
        raise bad("mean_return_delay_days", "must be at least 1 (sign-up lead at least 0)")
    probs = np.asarray(cfg.focus_count_probs, dtype=float)
    if probs.size < 1 or probs.size > cfg.n_categories or (probs < 0).any() or probs.sum() <= 0:
        raise bad("focus_count_probs", "must be 1..n_categories non-negative weights")
    if len(cfg.channels) < 1 or len(cfg.channels) != len(cfg.channel_weights):
        raise bad("channel_weights", "must give one weight per channel")
    if (np.asarray(cfg.channel_weights, dtype=float) < 0).any() or sum(cfg.channel_weights) <= 0:
        raise bad("channel_weights", "must be non-negative and not all zero")
    try:
        start, end = pd.Timestamp(cfg.start), pd.Timestamp(cfg.end)
    except (ValueError, TypeError) as exc:
        raise KizunaInputError(f"start/end must be dates ({exc})", column="start") from None
    if not end > start:
        raise bad("end", f"must be after start ({cfg.start})")
