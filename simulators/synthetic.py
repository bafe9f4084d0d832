"""A seeded synthetic shop whose ground truth is known, so tests can check models.

The story, per customer (time unit: the week):

1. *Latent traits.* Purchase rate ``lambda ~ Gamma(shape=r, rate=alpha)``; dropout
   probability ``p ~ Beta(a, b)``; spend scale ``nu ~ Gamma(shape=q, rate=gamma)``
   (Fader-Hardie Gamma-Gamma; ``gamma`` is called ``v`` in lifetimes and
   pymc-marketing); return propensity ``~ Beta`` with mean ``return_share``; a
   primary channel; category preferences ``theta ~ Dirichlet`` concentrated on 1-3
   "focus" categories (focus categories are drawn in proportion to category
   popularity).
2. *Acquisition.* The first purchase happens at a uniform random time in
   ``[start, end)``; sign-up is a few days earlier.
3. *Buy till you die (BG/NBD).* Repeat purchases arrive as a Poisson process of rate
   ``lambda``; immediately after each *repeat* purchase the customer drops out with
   probability ``p`` (a customer with no repeat purchase is alive for sure, as in
   BG/NBD). ``dropout_time`` is the time of the purchase after which the customer
   dropped out, so no purchase is ever later than it.
4. *Spend.* Each order has a target value ``z ~ Gamma(shape=spend_p, rate=nu)``, so
   the customer's true mean order value is ``spend_p / nu``.
5. *Baskets.* An order draws ``1 + min(Poisson(mean_candidate_lines - 1),
   max_candidate_lines - 1)`` candidate lines. Each picks a category from
   ``theta`` and an item within it with Zipf popularity ``rank **
   -item_zipf_exponent``. The basket is then filled to the order's target value:
   candidates are taken, one unit each, in drawn order while their running cost
   fits ``z`` (the first is always taken), and the remaining budget is spread
   evenly over the taken lines as extra units of ``unit_price`` (the catalogue
   price), rounded up with probability equal to the fractional part. So ``E[order
   value | z] = z`` exactly unless the first item alone costs more than ``z``;
   with the defaults realised order values are about 1 % above ``spend_p / nu``
   on average, and expensive categories are slightly under-represented (budget
   cuts drop them more often; within about 10 % of ``theta``). The same item
   drawn twice in an order becomes one line with the summed quantity, so no order
   repeats an item. With the defaults an order has about 2.1 lines.
6. *Returns.* Each purchase line is returned with the customer's return
   propensity, all units with probability 0.7, otherwise a uniform 1..quantity.
   The returned lines of an order form one return order ``"R" + <order number>``
   (same number as the purchase ``"O" + <order number>``), ``1 + Gamma`` days after
   the purchase; returns falling at or after ``end`` are dropped.

Cold-start customers signed up but never bought (their latent traits are still in
the truth table); cold-start items are in the catalogue but never sold.

Everything is vectorised over customers, orders and lines with numpy, drawn from a
single ``np.random.default_rng(seed)`` in a fixed order, so one config always yields
identical frames.

Hooks for a later marketing-campaign simulation: the truth table carries every
latent trait per customer (rate, dropout, spend scale, return propensity, channel,
preferences, alive state), so uplift can be drawn as a function of them; and
:func:`_realise_lines` turns any set of (customer, time, target value, channel)
orders into lines, so extra campaign orders can be realised the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from kizuna.features import schema as s
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

_SECONDS_PER_WEEK = 7 * 86_400
_US = 1_000_000
_FULL_RETURN_PROB = 0.7


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
        _check_config(self)

    @property
    def start_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.start).as_unit("us")

    @property
    def end_ts(self) -> pd.Timestamp:
        """First instant after the history (exclusive)."""
        return pd.Timestamp(self.end).as_unit("us")

    @property
    def n_weeks(self) -> float:
        return (self.end_ts - self.start_ts).total_seconds() / _SECONDS_PER_WEEK

    @property
    def category_names(self) -> tuple[str, ...]:
        extra = tuple(f"cat_{i + 1:02d}" for i in range(len(CATEGORY_NAMES), self.n_categories))
        return (CATEGORY_NAMES + extra)[: self.n_categories]


@dataclass(frozen=True)
class Shop:
    """A generated shop: the tables a user would have, plus the ground truth.

    Attributes
    ----------
    transactions
        One row per order line, canonical columns (customer_id, order_id, item_id,
        timestamp, quantity, unit_price, channel, category); returns are lines with
        negative quantity in their own ``R...`` orders. Sorted by time.
    items
        Catalogue: item_id, name, category, price, margin, in_stock.
    customers
        customer_id, signup_date, preferred_categories ("a|b" or missing), region.
    truth
        Per customer, same row order as ``customers``: latent traits (purchase
        rate per week, dropout probability, spend scale nu, mean order value
        ``spend_p / nu``, return propensity, primary channel), realised counts
        (orders, repeat purchases), first purchase, dropout time (NaT if alive at
        end), alive_at_end, top categories ("a|b", best first) and one
        ``pref_<category>`` column per category (the latent theta, rows sum to 1).
        Cold-start customers have NaT first purchase, zero orders and are alive
        (BG/NBD customers can only drop out after a repeat purchase).
    item_truth
        Per item: is_cold_start, category and within-category popularity, rank.
    config
        The config that generated the shop.
    """

    transactions: pd.DataFrame
    items: pd.DataFrame
    customers: pd.DataFrame
    truth: pd.DataFrame
    item_truth: pd.DataFrame
    config: ShopConfig


def generate_shop(config: ShopConfig | None = None) -> Shop:
    """Generate a synthetic shop; deterministic in ``config`` (including its seed).

    Parameters
    ----------
    config
        Shop parameters; defaults to :class:`ShopConfig()` (5,000 customers,
        about 60,000 transaction lines).

    Returns
    -------
    Shop
        Frames described in :class:`Shop`. With the defaults there are about 12
        transaction lines (5 orders) per purchasing customer, so 10 million lines
        take about 830,000 customers (see :func:`config_for_transactions`).
    """
    cfg = ShopConfig() if config is None else config
    rng = np.random.default_rng(cfg.seed)
    cat = _draw_catalogue(cfg, rng)
    cust = _draw_customers(cfg, rng, cat["category_popularity"])
    orders = _simulate_orders(cfg, rng, cust)
    lines = _realise_lines(cfg, rng, cust, cat, orders)
    returns = _draw_returns(cfg, rng, cust, orders, lines)
    return Shop(
        transactions=_transactions_frame(cfg, cust, cat, orders, lines, returns),
        items=_items_frame(cfg, cat),
        customers=_customers_frame(cfg, cust),
        truth=_truth_frame(cfg, cust, orders),
        item_truth=_item_truth_frame(cat),
        config=cfg,
    )


def config_for_transactions(
    n_transactions: int, base: ShopConfig | None = None, *, pilot_customers: int = 20_000
) -> ShopConfig:
    """Return ``base`` with ``n_customers`` set to give about ``n_transactions`` lines.

    Lines per customer are measured on a pilot shop of ``pilot_customers`` with the
    same parameters; cold-start counts are scaled in proportion. The result is
    within a few per cent of the target for targets well above the pilot size.
    """
    base = ShopConfig() if base is None else base
    if n_transactions < 1:
        raise KizunaInputError(
            "must be at least 1", column="n_transactions", values=[n_transactions]
        )
    pilot = dataclasses.replace(
        base, n_customers=pilot_customers, n_cold_start_customers=0, n_cold_start_items=0
    )
    per_customer = len(generate_shop(pilot).transactions) / pilot_customers
    n_customers = max(1, round(n_transactions / per_customer))
    scale = n_customers / base.n_customers
    return dataclasses.replace(
        base,
        n_customers=n_customers,
        n_cold_start_customers=round(base.n_cold_start_customers * scale),
    )


# --- configuration checks ------------------------------------------------------


def _check_config(cfg: ShopConfig) -> None:
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


# --- catalogue -----------------------------------------------------------------


def _draw_catalogue(cfg: ShopConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Items sorted by (category, popularity rank); cold-start items get weight 0."""
    n_cat, n_sold = cfg.n_categories, cfg.n_items
    n_all = n_sold + cfg.n_cold_start_items
    cat_pop = rng.dirichlet(np.full(n_cat, 3.0))
    # Every category gets at least one sold item; the rest follow category popularity.
    sold_cat = np.concatenate([np.arange(n_cat), rng.choice(n_cat, n_sold - n_cat, p=cat_pop)])
    cold_cat = rng.choice(n_cat, cfg.n_cold_start_items, p=cat_pop)
    category = np.concatenate([sold_cat, cold_cat])
    is_cold = np.arange(n_all) >= n_sold
    # Sort by category, sold before cold, random order inside: rank = popularity rank.
    order = np.lexsort((rng.random(n_all), is_cold, category))
    category, is_cold = category[order], is_cold[order]
    cat_start = np.searchsorted(category, np.arange(n_cat))
    rank = np.arange(n_all) - cat_start[category] + 1
    weight = np.where(is_cold, 0.0, rank.astype(float) ** -cfg.item_zipf_exponent)
    within = weight / np.bincount(category, weights=weight, minlength=n_cat)[category]
    # Monotone search table: category c occupies (c, c + 1]. Dividing by the
    # category's own total makes its last sold item (and the zero-weight cold items
    # after it) exactly c + 1, so cold items can never be drawn.
    cum = np.cumsum(weight)
    cum = cum - np.concatenate([[0.0], cum])[cat_start][category]
    cat_end = np.searchsorted(category, np.arange(n_cat), side="right")
    table = category + cum / cum[cat_end - 1][category]
    cat_median = cfg.median_price * np.exp(rng.normal(0.0, 0.4, n_cat))
    raw_price = cat_median[category] * np.exp(rng.normal(0.0, 0.5, n_all))
    price = np.maximum(np.round(raw_price) - 0.01, 0.99)
    cat_margin = rng.uniform(0.15, 0.55, n_cat)[category]
    margin = np.round(rng.beta(cat_margin * 20, (1 - cat_margin) * 20), 3)
    in_stock = rng.random(n_all) < cfg.in_stock_share
    # Item ids are shuffled so that they reveal neither category nor popularity.
    id_number = rng.permutation(n_all) + 1
    return {
        "category": category,
        "is_cold": is_cold,
        "rank": rank,
        "within": within,
        "table": table,
        "price": price,
        "margin": margin,
        "in_stock": in_stock,
        "id_number": id_number,
        "category_popularity": cat_pop,
    }


# --- customers -----------------------------------------------------------------


def _draw_customers(
    cfg: ShopConfig, rng: np.random.Generator, cat_pop: np.ndarray
) -> dict[str, np.ndarray]:
    """Latent traits for purchasing customers (first) and cold-start customers (last)."""
    n_buy, n_cold = cfg.n_customers, cfg.n_cold_start_customers
    n, n_cat = n_buy + n_cold, cfg.n_categories
    lam = rng.gamma(cfg.rate_r, 1.0 / cfg.rate_alpha, n)
    p = np.clip(rng.beta(cfg.dropout_a, cfg.dropout_b, n), 1e-12, 1.0)
    nu = rng.gamma(cfg.spend_q, 1.0 / cfg.spend_gamma, n)
    k = cfg.return_concentration
    ret = np.zeros(n)
    if cfg.return_share > 0:
        ret = rng.beta(cfg.return_share * k, (1 - cfg.return_share) * k, n)
    ch_w = np.asarray(cfg.channel_weights, dtype=float)
    channel = rng.choice(len(ch_w), n, p=ch_w / ch_w.sum())
    region = rng.integers(0, len(REGIONS), n)  # carries no signal: a null attribute
    fc = np.asarray(cfg.focus_count_probs, dtype=float)
    n_focus = rng.choice(fc.size, n, p=fc / fc.sum()) + 1
    # Weighted sampling without replacement (Gumbel top-k) of the focus categories.
    keys = np.log(cat_pop)[None, :] + rng.gumbel(size=(n, n_cat))
    rank_of = np.empty((n, n_cat), dtype=np.int64)
    np.put_along_axis(rank_of, np.argsort(-keys, axis=1), np.arange(n_cat)[None, :], axis=1)
    focus = rank_of < n_focus[:, None]
    alpha = np.where(focus, cfg.focus_concentration, cfg.background_concentration)
    g = rng.gamma(alpha)
    # Small shapes can underflow to 0; a focus category must keep some weight.
    np.maximum(g, np.finfo(float).tiny, out=g, where=focus)
    theta = g / g.sum(axis=1, keepdims=True)
    # Ties are impossible among the top weights (focus weights are > 0 and continuous).
    top = np.argsort(-theta, axis=1)[:, : fc.size]
    stated_share = np.where(
        np.arange(n) < n_buy, cfg.stated_preference_share, cfg.cold_start_stated_preference_share
    )
    stated = rng.random(n) < stated_share
    weeks = cfg.n_weeks
    t0 = rng.uniform(0.0, weeks, n)  # first purchase (weeks after start); unused for cold
    lead_days = np.zeros(n)
    if cfg.mean_signup_lead_days > 0:
        lead_days = rng.exponential(cfg.mean_signup_lead_days, n)
    signup_day = np.floor(t0 * 7 - lead_days)
    cold = np.arange(n) >= n_buy
    signup_day[cold] = np.floor(rng.uniform(0.0, weeks * 7, n_cold))
    # Customer ids follow sign-up order, as a shop's own numbering would.
    id_number = np.empty(n, dtype=np.int64)
    id_number[np.lexsort((np.arange(n), signup_day))] = np.arange(1, n + 1)
    return {
        "lam": lam, "p": p, "nu": nu, "ret": ret, "channel": channel, "region": region,
        "n_focus": n_focus, "theta": theta, "top": top, "stated": stated, "t0": t0,
        "signup_day": signup_day, "cold": cold, "id_number": id_number,
    }  # fmt: skip


# --- orders --------------------------------------------------------------------


def _simulate_orders(
    cfg: ShopConfig, rng: np.random.Generator, cust: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """BG/NBD order times for purchasing customers, plus order value and channel.

    With ``N ~ Poisson(lambda * D)`` arrivals in the remaining window ``D`` and
    ``J ~ Geometric(p)`` repeat purchases before dropout, the customer makes
    ``n = min(J, N)`` repeats and drops out iff ``J <= N``. Given ``N``, arrival
    times are uniform order statistics, and the first ``n`` of ``N`` come from
    exponential spacings: ``U_(j) = S_j / (S_n + Gamma(N - n + 1))`` with ``S_j``
    the running sum of ``j`` standard exponentials. Cost is O(orders), not O(N).
    """
    n_buy = cfg.n_customers
    lam, p, t0 = cust["lam"][:n_buy], cust["p"][:n_buy], cust["t0"][:n_buy]
    window = cfg.n_weeks - t0
    n_arrivals = rng.poisson(lam * window)
    n_until_drop = rng.geometric(p)
    n_rep = np.minimum(n_arrivals, n_until_drop)
    dropped = n_until_drop <= n_arrivals
    spacing = rng.exponential(1.0, int(n_rep.sum()))
    rep_start = np.concatenate([[0], np.cumsum(n_rep)[:-1]])
    running = np.cumsum(spacing)
    cust_of_rep = np.repeat(np.arange(n_buy), n_rep)
    offset = np.concatenate([[0.0], running])[rep_start]
    running = running - offset[cust_of_rep]
    s_n = np.zeros(n_buy)
    has = n_rep > 0
    s_n[has] = running[rep_start[has] + n_rep[has] - 1]
    total = s_n + rng.gamma((n_arrivals - n_rep + 1).astype(float))
    rep_time = window[cust_of_rep] * running / total[cust_of_rep]

    n_orders = n_rep + 1
    order_cust = np.repeat(np.arange(n_buy), n_orders)
    first = np.concatenate([[0], np.cumsum(n_orders)[:-1]])
    rel = np.zeros(order_cust.size)
    is_repeat = np.ones(order_cust.size, dtype=bool)
    is_repeat[first] = False
    rel[is_repeat] = rep_time
    order_sec = np.floor((t0[order_cust] + rel) * _SECONDS_PER_WEEK).astype(np.int64)
    value = rng.gamma(cfg.spend_p, 1.0 / cust["nu"][order_cust])
    loyal = rng.random(order_cust.size) < cfg.channel_loyalty
    ch_w = np.asarray(cfg.channel_weights, dtype=float)
    other = rng.choice(ch_w.size, order_cust.size, p=ch_w / ch_w.sum())
    channel = np.where(loyal, cust["channel"][order_cust], other)
    # Order numbers follow time (ties: customer order), as an order system's would.
    chrono = np.argsort(order_sec, kind="stable")
    number = np.empty(order_cust.size, dtype=np.int64)
    number[chrono] = np.arange(1, order_cust.size + 1)
    last = first + n_orders - 1
    return {
        "cust": order_cust, "sec": order_sec, "value": value, "channel": channel,
        "number": number, "n_rep": n_rep, "dropped": dropped,
        "first_sec": order_sec[first], "last_sec": order_sec[last],
    }  # fmt: skip


def _realise_lines(
    cfg: ShopConfig,
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    cat: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Turn orders into lines: which items, how many units.

    Parameters
    ----------
    orders
        Needs ``"cust"`` (customer index, shape (n_orders,)) and ``"value"``
        (target order value, shape (n_orders,)); nothing else, so extra orders
        (e.g. from a simulated campaign) can be realised the same way.

    Returns
    -------
    dict
        ``order`` (index into the order arrays), ``item`` (catalogue position) and
        ``quantity`` (units, float), each of shape (n_lines,), sorted by order and
        then item.
    """
    n_orders = orders["cust"].size
    extra = rng.poisson(cfg.mean_candidate_lines - 1.0, n_orders)
    n_lines = 1 + np.minimum(extra, cfg.max_candidate_lines - 1)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_cust = orders["cust"][line_order]
    # Inverse-CDF sampling from each customer's theta in one searchsorted: row i of
    # the cumulative matrix is shifted by i, which makes the flattened table monotone.
    theta = cust["theta"]
    n_cat = theta.shape[1]
    cum = np.cumsum(theta, axis=1)
    cum[:, -1] = 1.0
    flat = (cum + np.arange(theta.shape[0])[:, None]).ravel()
    u = rng.random(line_order.size)
    pos = np.searchsorted(flat, line_cust + u, side="right")
    line_cat = np.minimum(pos - line_cust * n_cat, n_cat - 1)
    u = rng.random(line_order.size)
    item = np.searchsorted(cat["table"], line_cat + u, side="right")
    # Fill the basket: lines are taken, one unit each, in drawn order while their
    # running cost fits the target value (the first line always); the remaining
    # budget is spread evenly over the taken lines as extra units, rounded up with
    # probability equal to the fraction. E[value] is then the target exactly,
    # unless the first item alone costs more than the target.
    price = cat["price"][item]
    first_line = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    running = np.cumsum(price)
    running -= np.concatenate([[0.0], running])[first_line][line_order]
    taken = running <= orders["value"][line_order]
    taken[first_line] = True
    del running, line_cust, pos, line_cat, u
    taken = np.flatnonzero(taken)
    line_order, item, price = line_order[taken], item[taken], price[taken]
    n_taken = np.bincount(line_order, minlength=n_orders)
    base_cost = np.bincount(line_order, weights=price, minlength=n_orders)
    spare = np.maximum(orders["value"] - base_cost, 0.0)
    extra = spare[line_order] / n_taken[line_order] / price
    qty = np.floor(extra)
    qty += rng.random(qty.size) < (extra - qty)
    qty += 1.0
    # Merge repeats of an item within an order; input is order-major, so a stable
    # sort on (order, item) only reorders inside orders.
    key = line_order * cat["price"].size + item
    perm = np.argsort(key, kind="stable")
    key = key[perm]
    new = np.empty(key.size, dtype=bool)
    new[:1] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    keep = perm[new]
    return {
        "order": line_order[keep],
        "item": item[keep],
        "quantity": np.bincount(group, weights=qty[perm]),
    }


def _draw_returns(
    cfg: ShopConfig,
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    lines: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Return lines: index of the purchase line, returned units, time (seconds)."""
    n_orders = orders["cust"].size
    delay_days = 1.0 + rng.gamma(2.0, (cfg.mean_return_delay_days - 1.0) / 2.0, n_orders)
    ret_sec = orders["sec"] + np.floor(delay_days * 86_400).astype(np.int64)
    line_order = lines["order"]
    chosen = rng.random(line_order.size) < cust["ret"][orders["cust"][line_order]]
    qty = lines["quantity"].astype(np.int64)
    full = rng.random(line_order.size) < _FULL_RETURN_PROB
    partial = rng.integers(1, qty + 1)
    returned = np.where(full, qty, partial)
    horizon = (cfg.end_ts - cfg.start_ts).total_seconds()
    idx = np.flatnonzero(chosen & (ret_sec[line_order] < horizon))
    return {"line": idx, "quantity": returned[idx].astype(float), "sec": ret_sec[line_order[idx]]}


# --- frames --------------------------------------------------------------------


def _ids(prefix: str | np.ndarray, numbers: np.ndarray, width: int) -> pd.arrays.ArrowStringArray:
    """Zero-padded ids such as "C0000001", built as raw bytes (10M ids in < 1 s).

    ``prefix`` is one ASCII character, or one byte code per row.
    """
    numbers = np.asarray(numbers)
    n = numbers.size
    # Digits are written column by column into a (width + 1, n) array, so every
    # write is contiguous; one transpose then gives the row-major string bytes.
    buf = np.empty((width + 1, n), dtype=np.uint8)
    buf[0] = ord(prefix) if isinstance(prefix, str) else prefix
    x = numbers.astype(np.uint32 if n == 0 or numbers.max() < 2**32 else np.uint64)
    for row in range(width, 0, -1):
        q = x // 10
        x -= q * 10
        x += 48
        buf[row] = x
        x = q
    data = np.ascontiguousarray(buf.T)
    offsets = np.arange(n + 1, dtype=np.int64) * (width + 1)
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pd.array(arr, dtype="str")


def _labels(names: tuple[str, ...] | list[str], codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    """Strings from a small vocabulary by code, without a Python loop over rows."""
    vocab = pa.array(list(names), type=pa.large_string())
    return pd.array(vocab.take(pa.array(np.asarray(codes, dtype=np.int64))), dtype="str")


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(n)))


def _timestamps(cfg: ShopConfig, seconds: np.ndarray) -> np.ndarray:
    base = cfg.start_ts.value // 1000  # Timestamp.value is in ns whatever the unit
    return (base + np.asarray(seconds, dtype=np.int64) * _US).view("datetime64[us]")


def _transactions_frame(
    cfg: ShopConfig,
    cust: dict[str, np.ndarray],
    cat: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    lines: dict[str, np.ndarray],
    returns: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Rows sorted by time; at equal times purchases come before returns, then by
    order number; lines keep their order within an order."""
    line_order, item = lines["order"], lines["item"]
    n_orders = orders["cust"].size
    # Purchase lines in order-number (= time) order, without a sort: lay out each
    # order's contiguous block of lines in order-number sequence.
    count = np.bincount(line_order, minlength=n_orders)
    start = np.cumsum(count) - count
    chrono = np.empty(n_orders, dtype=np.int64)
    chrono[orders["number"] - 1] = np.arange(n_orders)
    count_c = count[chrono]
    perm = np.repeat(start[chrono] - (np.cumsum(count_c) - count_c), count_c)
    perm += np.arange(perm.size)
    sec_p = orders["sec"][line_order[perm]]
    # Returns (a few per cent of lines) are sorted and slotted in by time.
    r_line, r_sec = returns["line"], returns["sec"]
    r_perm = np.lexsort((orders["number"][line_order[r_line]], r_sec))
    r_line, r_sec, r_qty = r_line[r_perm], r_sec[r_perm], returns["quantity"][r_perm]
    slot = np.searchsorted(sec_p, r_sec, side="right") + np.arange(r_line.size)
    is_ret = np.zeros(perm.size + r_line.size, dtype=bool)
    is_ret[slot] = True
    src_line = np.empty(is_ret.size, dtype=np.int64)
    src_line[~is_ret] = perm
    src_line[is_ret] = r_line
    sec = np.empty(is_ret.size, dtype=np.int64)
    sec[~is_ret] = sec_p
    sec[is_ret] = r_sec
    qty = np.empty(is_ret.size)
    qty[~is_ret] = lines["quantity"][perm]
    qty[is_ret] = -r_qty
    order_idx = line_order[src_line]
    item_idx = item[src_line]
    cust_idx = orders["cust"][order_idx]
    n_cust = cust["id_number"].size
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: _ids("C", cust["id_number"][cust_idx], _width(n_cust, 7)),
            s.ORDER_ID: _ids(
                np.where(is_ret, ord("R"), ord("O")).astype(np.uint8),
                orders["number"][order_idx],
                _width(n_orders, 9),
            ),
            s.ITEM_ID: _ids("I", cat["id_number"][item_idx], _width(cat["price"].size, 5)),
            s.TIMESTAMP: _timestamps(cfg, sec),
            s.QUANTITY: qty,
            s.UNIT_PRICE: cat["price"][item_idx],
            s.CHANNEL: _labels(cfg.channels, orders["channel"][order_idx]),
            s.CATEGORY: _labels(cfg.category_names, cat["category"][item_idx]),
        },
        copy=False,  # every column is a fresh array
    )


def _items_frame(cfg: ShopConfig, cat: dict[str, np.ndarray]) -> pd.DataFrame:
    n = cat["price"].size
    order = np.argsort(cat["id_number"])
    names = [f"{cfg.category_names[c].title()} #{i:0{_width(n, 4)}d}" for c, i in zip(
        cat["category"][order], cat["id_number"][order], strict=True
    )]  # fmt: skip
    return pd.DataFrame(
        {
            s.ITEM_ID: _ids("I", cat["id_number"][order], _width(n, 5)),
            s.NAME: pd.array(names, dtype="str"),
            s.CATEGORY: _labels(cfg.category_names, cat["category"][order]),
            s.PRICE: cat["price"][order],
            s.MARGIN: cat["margin"][order],
            s.IN_STOCK: cat["in_stock"][order],
        },
        copy=False,  # every column is a fresh array
    )


def _item_truth_frame(cat: dict[str, np.ndarray]) -> pd.DataFrame:
    n = cat["price"].size
    order = np.argsort(cat["id_number"])
    return pd.DataFrame(
        {
            s.ITEM_ID: _ids("I", cat["id_number"][order], _width(n, 5)),
            IS_COLD_START: cat["is_cold"][order],
            CATEGORY_POPULARITY: cat["category_popularity"][cat["category"][order]],
            WITHIN_CATEGORY_POPULARITY: cat["within"][order],
            POPULARITY_RANK: cat["rank"][order],
        },
        copy=False,  # every column is a fresh array
    )


def _top_category_strings(
    cfg: ShopConfig, cust: dict[str, np.ndarray]
) -> pd.arrays.ArrowStringArray:
    """ "a|b|c" of each customer's top n_focus latent categories, best first."""
    top, n_focus = cust["top"], cust["n_focus"]
    base = cfg.n_categories + 1
    used = np.arange(top.shape[1])[None, :] < n_focus[:, None]
    code = ((top + 1) * used * base ** np.arange(top.shape[1])[None, :]).sum(axis=1)
    uniq, inverse = np.unique(code, return_inverse=True)
    names = cfg.category_names
    vocab = []
    for c in uniq.tolist():  # at most a few thousand distinct combinations
        parts = []
        while c:
            parts.append(names[c % base - 1])
            c //= base
        vocab.append(s.PREFERENCE_SEP.join(parts))
    return _labels(vocab, inverse)


def _customer_order(cust: dict[str, np.ndarray]) -> np.ndarray:
    return np.argsort(cust["id_number"])


def _customers_frame(cfg: ShopConfig, cust: dict[str, np.ndarray]) -> pd.DataFrame:
    order = _customer_order(cust)
    n = order.size
    top = _top_category_strings(cfg, cust)
    stated = pd.Series(top).where(cust["stated"]).array  # missing when not stated
    signup = _timestamps(cfg, cust["signup_day"][order].astype(np.int64) * 86_400)
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: _ids("C", cust["id_number"][order], _width(n, 7)),
            s.SIGNUP_DATE: signup,
            s.PREFERRED_CATEGORIES: stated[order],
            REGION: _labels(REGIONS, cust["region"][order]),
        },
        copy=False,  # every column is a fresh array
    )


def _truth_frame(
    cfg: ShopConfig, cust: dict[str, np.ndarray], orders: dict[str, np.ndarray]
) -> pd.DataFrame:
    n_buy, n = cfg.n_customers, cust["id_number"].size
    first_sec = np.full(n, np.iinfo(np.int64).min)
    drop_sec = np.full(n, np.iinfo(np.int64).min)
    first_sec[:n_buy] = orders["first_sec"]
    drop_sec[:n_buy] = np.where(orders["dropped"], orders["last_sec"], drop_sec[:n_buy])
    n_rep = np.zeros(n, dtype=np.int64)
    n_rep[:n_buy] = orders["n_rep"]
    bought = np.arange(n) < n_buy
    alive = ~np.concatenate([orders["dropped"], np.zeros(n - n_buy, dtype=bool)])

    def times(sec: np.ndarray) -> np.ndarray:
        out = _timestamps(cfg, np.where(sec == np.iinfo(np.int64).min, 0, sec))
        out[sec == np.iinfo(np.int64).min] = np.datetime64("NaT")
        return out

    order = _customer_order(cust)
    cols = {
        s.CUSTOMER_ID: _ids("C", cust["id_number"][order], _width(n, 7)),
        IS_COLD_START: cust["cold"][order],
        PURCHASE_RATE: cust["lam"][order],
        DROPOUT_PROB: cust["p"][order],
        SPEND_SCALE: cust["nu"][order],
        MEAN_ORDER_VALUE: cfg.spend_p / cust["nu"][order],
        RETURN_PROB: cust["ret"][order],
        PRIMARY_CHANNEL: _labels(cfg.channels, cust["channel"][order]),
        N_FOCUS: cust["n_focus"][order],
        TOP_CATEGORIES: _top_category_strings(cfg, cust)[order],
        FIRST_PURCHASE: times(first_sec)[order],
        N_ORDERS: (n_rep + bought)[order],
        N_REPEAT: n_rep[order],
        DROPOUT_TIME: times(drop_sec)[order],
        ALIVE_AT_END: alive[order],
    }
    for j, name in enumerate(cfg.category_names):
        cols[PREF_PREFIX + name] = cust["theta"][order, j]
    return pd.DataFrame(cols, copy=False)
